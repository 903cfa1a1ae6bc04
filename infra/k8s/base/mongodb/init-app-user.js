// Runs once, when MongoDB starts on an empty data directory (docker-entrypoint-initdb.d), as the root
// user. Creates the application user the services connect as: readWrite on their five databases only.
// Credentials come from the environment (MONGO_APP_USERNAME / MONGO_APP_PASSWORD), never from this file.
const user = process.env.MONGO_APP_USERNAME;
const pwd = process.env.MONGO_APP_PASSWORD;
if (!user || !pwd) {
  throw new Error("MONGO_APP_USERNAME and MONGO_APP_PASSWORD must be set");
}
const dbs = ["ecommerce_auth", "ecommerce_products", "ecommerce_orders", "ecommerce_payments", "ecommerce_events"];
db.getSiblingDB("admin").createUser({
  user: user,
  pwd: pwd,
  roles: dbs.map((name) => ({ role: "readWrite", db: name })),
  // SCRAM-SHA-256 only (MongoDB 7 would also store SCRAM-SHA-1 credentials by default); the
  // services' driver negotiates it from the URL's `authSource=admin`.
  mechanisms: ["SCRAM-SHA-256"],
});
