import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { makePgService } from "postgraphile/adaptors/pg";
export default {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.PG_URL,
      schemas: ["public"],
      // The same pool size as each ordergraph worker (bench/servers.py POOL_SIZE).
      poolConfig: { max: Number(process.env.PG_POOL_MAX || 10) },
    }),
  ],
  grafserv: { port: Number(process.env.PORT || 5678), graphiql: false },
  grafast: { explain: false },
};
