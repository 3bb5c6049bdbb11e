/**
 * Value pools for generated employees. Names carry umlauts, ß, apostrophes, accents and particles on purpose:
 * importers must not mangle them. Ids and names of departments, offices etc. are stable so tests can name them.
 */
export const FIRST_NAMES: readonly (readonly [string, 'male' | 'female' | 'diverse'])[] = [
  ['Jürgen', 'male'], ['Zoë', 'female'], ['Björn', 'male'], ['Sören', 'male'], ['Gisèle', 'female'], ['François', 'male'],
  ['Jörg', 'male'], ['Özlem', 'female'], ['Ümit', 'male'], ['Anaïs', 'female'], ['Renée', 'female'], ['José', 'male'],
  ['Søren', 'male'], ['Łukasz', 'male'], ['Maximilian', 'male'], ['Sophie', 'female'], ['Lukas', 'male'], ['Hannah', 'female'],
  ['Felix', 'male'], ['Emma', 'female'], ['Jonas', 'male'], ['Lea', 'female'], ['Leon', 'male'], ['Marie', 'female'],
  ['Finn', 'male'], ['Mia', 'female'], ['Paul', 'male'], ['Anna', 'female'], ['Noah', 'male'], ['Clara', 'female'],
  ['Elias', 'male'], ['Lina', 'female'], ['Kai', 'diverse'], ['Alex', 'diverse'], ['Mareike', 'female'], ['Günther', 'male'],
  ['Ines', 'female'], ['Tobias', 'male'], ['Katharina', 'female'], ['Mehmet', 'male'], ['Aylin', 'female'], ['Niamh', 'female'],
  ['Seán', 'male'], ['Chloé', 'female'], ['Dmitrij', 'male'], ['Agnieszka', 'female'], ['Mats', 'male'], ['Frieda', 'female'],
];
export const LAST_NAMES: readonly string[] = [
  'Müller', 'Schmidt', 'Strauß', "O'Brien", 'Groß', 'Weiß', 'Köhler', 'Schäfer', 'Bäcker', 'Fuchs', "D'Angelo", 'Dubois',
  'Nørgaard', 'García', 'Łęcki', 'Meyer', 'Wagner', 'Becker', 'Hoffmann', 'Schulz', 'Koch', 'Richter', 'Klein', 'Wolf',
  'Schröder', 'Neumann', 'Schwarz', 'Zimmermann', 'Braun', 'Krüger', 'Hartmann', 'Lange', 'Werner', 'Krause', 'Lehmann',
  'König', 'Walter', 'Huber', 'Kaiser', 'Fischer', 'Möller', 'Jäger', 'Vogel', 'Günther', 'Böhm', 'Krämer', 'Kühn',
  'Yılmaz', 'Öztürk', 'van der Berg', 'de la Cruz', 'Müller-Lüdenscheidt', 'Bergmann', 'Nguyễn', 'Šimić', 'Ødegård',
];
export const POSITIONS = [
  'Software Engineer', 'Senior Software Engineer', 'Product Manager', 'Sales Manager', 'Account Executive',
  'HR Business Partner', 'Buchhalter:in', 'Werkstudent:in', 'Customer Success Manager', 'Data Analyst', 'UX Designer',
  'Teamleiter:in Vertrieb', 'Office Manager', 'DevOps Engineer', 'Marketing Manager', 'Geschäftsführer:in Assistenz',
];
export const DEPARTMENTS = [
  [281521, 'Customer Support'], [281522, 'Engineering'], [281523, 'Vertrieb'], [281524, 'Marketing'],
  [281525, 'Personalwesen'], [281526, 'Finanzen & Controlling'], [281527, 'Produktentwicklung'], [281528, 'Qualitätssicherung'],
] as const;
export const EXECUTIVE_DEPARTMENT = [281520, 'Geschäftsführung'] as const;
export const OFFICES = [
  [131014, 'Munich', 2, 'Deutschland (Bayern) Feiertage', 'DE', 'Bayern'],
  [131015, 'Berlin', 3, 'Deutschland (Berlin) Feiertage', 'DE', 'Berlin'],
  [131016, 'Hamburg', 4, 'Deutschland (Hamburg) Feiertage', 'DE', 'Hamburg'],
  [131017, 'Köln', 5, 'Deutschland (Nordrhein-Westfalen) Feiertage', 'DE', 'Nordrhein-Westfalen'],
  [131018, 'Wien', 6, 'Österreich Feiertage', 'AT', null],
  [131019, 'Zürich', 7, 'Schweiz (Zürich) Feiertage', 'CH', 'Zürich'],
] as const;
export const TEAMS = [
  [59026, 'T_X'], [59027, 'Plattform'], [59028, 'Mobile'], [59029, 'Backoffice'], [59030, 'Recruiting'],
  [59031, 'Payroll'], [59032, 'Außendienst Süd'], [59033, 'Key Accounts'],
] as const;
export const SUBCOMPANIES = [[7033, 'CS Demo GmbH'], [7034, 'CS Demo Österreich GmbH']] as const;
export const COST_CENTERS = [[82957, 'Cost center 1'], [82958, 'Kostenstelle Vertrieb'], [82959, 'Kostenstelle F&E']] as const;
export const WEEKLY_HOURS = ['40', '40', '40', '40', '38.5', '32.5', '30', '20'];
export const TERMINATION_TYPES = ['Eigenkündigung', 'Arbeitgeberkündigung', 'Aufhebungsvertrag', 'Befristung ausgelaufen'];
export const TERMINATION_REASONS = ['Neue Herausforderung', 'Umzug', 'Ruhestand', null];
export const FILLER_WORDS = [
  'Projekt', 'Schlüssel', 'Zuständigkeit', 'Vertretung', 'Notfallkontakt', 'Fahrradleasing', 'Jobticket', 'Schulung',
  'Zertifikat', 'Größe', 'Abteilung', 'Standort', 'Übergabe', 'Laptop', 'Parkplatz', 'remote', 'hybrid', 'Q3', '2024',
];
export const EMAIL_DOMAIN = 'musterfirma.example';
