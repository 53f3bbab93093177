import pg from 'pg';

export const PG_URL = process.env.BWC_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema for one test run; the returned URL makes it the search path. */
export async function freshSchema(name: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `${name}_${process.pid}_${Date.now().toString(36)}`;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
  const sep = PG_URL.includes('?') ? '&' : '?';
  return {
    url: `${PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema},public`)}`,
    drop: async () => {
      const d = new pg.Client({ connectionString: PG_URL });
      await d.connect();
      await d.query(`DROP SCHEMA ${schema} CASCADE`);
      await d.end();
    },
  };
}
