import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { makePgService } from "postgraphile/adaptors/pg";
export default {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  pgServices: [makePgService({ connectionString: process.env.PG_URL, schemas: ["public"] })],
  grafserv: { port: Number(process.env.PORT || 5678), graphiql: false },
  grafast: { explain: false },
};
