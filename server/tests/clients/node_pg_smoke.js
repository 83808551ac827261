// node-postgres (pg) against a running Sluice: simple queries, unnamed and named prepared
// statements with untyped parameters, a maintained view, and an error code.
// Usage: node node_pg_smoke.js PORT
const assert = require('assert');
const { Client } = require('pg');

(async () => {
  const port = Number(process.argv[2]);
  const client = new Client({ host: '127.0.0.1', port, user: 'sluice', database: 'sluice' });
  await client.connect();
  await client.query('CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, qty INT)');
  await client.query('CREATE MATERIALIZED VIEW stock AS SELECT count(*) AS n, sum(qty) AS total FROM items');
  await client.query('INSERT INTO items VALUES ($1, $2, $3)', [1, 'bolt', 5]);
  await client.query('INSERT INTO items VALUES ($1, $2, $3)', [2, 'nut', 7]);
  let result = await client.query('SELECT n, total FROM stock');
  assert.deepStrictEqual(result.rows, [{ n: '2', total: '12' }]);
  await client.query('UPDATE items SET qty = $1 WHERE id = $2', [100, 1]);
  result = await client.query({ name: 'by-id', text: 'SELECT name, qty FROM items WHERE id = $1', values: [1] });
  assert.deepStrictEqual(result.rows, [{ name: 'bolt', qty: 100 }]);
  result = await client.query('SELECT n, total FROM stock');
  assert.deepStrictEqual(result.rows, [{ n: '2', total: '107' }]);
  await assert.rejects(client.query('SELECT * FROM missing_table'), (e) => e.code === '42P01');
  await client.end();
  console.log('node pg smoke test passed');
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
