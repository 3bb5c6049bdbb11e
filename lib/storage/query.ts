import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Every item of a tenant whose sort key starts with `prefix`, following DynamoDB's pages. */
export async function queryByPrefix(
  db: Pick<DynamoDBDocumentClient, 'send'>,
  query: { tableName: string; tenantId: string; prefix: string; consistentRead?: boolean },
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
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}
