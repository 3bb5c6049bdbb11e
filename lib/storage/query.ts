import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Every item of a tenant (whose sort key starts with `prefix`, if given), following DynamoDB's pages; with `limit`,
 * only the first that many (one page), with `newestFirst` in descending key order, and with `projection` only those
 * attributes.
 */
export async function queryByPrefix(
  db: Pick<DynamoDBDocumentClient, 'send'>,
  query: {
    tableName: string;
    tenantId: string;
    prefix?: string;
    consistentRead?: boolean;
    newestFirst?: boolean;
    limit?: number;
    projection?: readonly string[];
  },
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  // Attribute names go through placeholders: some (status) are DynamoDB reserved words.
  const names = Object.fromEntries((query.projection ?? []).map((name, i) => [`#a${i}`, name]));
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new QueryCommand({
        TableName: query.tableName,
        KeyConditionExpression: query.prefix === undefined ? 'tenantId = :t' : 'tenantId = :t AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':t': query.tenantId, ...(query.prefix === undefined ? {} : { ':p': query.prefix }) },
        ...(query.projection ? { ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names } : {}),
        ConsistentRead: query.consistentRead ?? false,
        ...(query.newestFirst ? { ScanIndexForward: false } : {}),
        ...(query.limit !== undefined ? { Limit: query.limit } : {}),
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(page.Items ?? []));
    // With a limit, the first page is the answer.
    start = query.limit === undefined ? page.LastEvaluatedKey : undefined;
  } while (start);
  return items;
}
