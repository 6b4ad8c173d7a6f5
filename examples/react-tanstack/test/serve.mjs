// Serves the built app on 127.0.0.1:<port>, index.html for unknown paths, as a static host
// would: `node test/serve.mjs <port> [dir, default dist]`.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(process.argv[3] ?? "dist");
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };
http
  .createServer((req, res) => {
    const wanted = path.join(root, path.normalize(new URL(req.url, "http://x").pathname));
    const file = wanted.startsWith(root) && fs.existsSync(wanted) && fs.statSync(wanted).isFile() ? wanted : path.join(root, "index.html");
    res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  })
  .listen(Number(process.argv[2]), "127.0.0.1", () => console.log("serving"));
