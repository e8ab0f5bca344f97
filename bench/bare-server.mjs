import http from 'node:http';
import express from 'express';

/** The baseline: one bare route on the same express as Assay, in its own process, nothing else. */
const app = express();
app.get('/bare', (req, res) => res.json({ ok: true }));

// The same kind of server as src/server.ts: a plain node:http server around the app.
const server = http.createServer(app);
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');

process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
