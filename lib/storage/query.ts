import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Every item of a tenant whose sort key starts with `prefix`, following DynamoDB's pages; with `limit`,
 * only the first that many (one page), and with `newestFirst` in descending key order.
 */
export async function queryByPrefix(
  db: Pick<DynamoDBDocumentClient, 'send'>,
  query: { tableName: string; tenantId: string; prefix: string; consistentRead?: boolean; newestFirst?: boolean; limit?: number },
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(
      new QueryCommand({
        TableName: query.tableName,
        KeyConditionExpression: 'tenantId = :t AND begins_with(sk, :p)',
        ExpressionAttributeValues: { ':t': query.tenantId, ':p': query.prefix },
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
