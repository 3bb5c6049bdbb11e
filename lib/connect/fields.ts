import type { UserFieldName } from '../mapping/mapping.js';

/** How Personio's UI names what each field reads, for warnings an admin can act on. */
export const fieldLabels: Record<UserFieldName, string> = {
  email: 'Email',
  firstName: 'First name',
  preferredName: 'Preferred name',
  lastName: 'Last name',
  position: 'Position',
  team: 'Team',
  department: 'Department',
  office: 'Office',
  employmentType: 'Employment type',
  hireDate: 'Hire date',
  terminationDate: 'Termination date',
  birthday: 'Date of birth',
  status: 'Status',
  managerPersonioId: 'Supervisor',
};
