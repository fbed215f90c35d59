/**
 * A local HTTPS proxy that lets a client which only talks to `https://graph.microsoft.com` (rclone's
 * OneDrive backend) reach the emulator, without touching /etc/hosts: the client is run with
 * HTTPS_PROXY pointing here and trusts our self-signed certificate (rclone's --ca-cert). Each
 * `CONNECT host:443` for a host in the route table is answered, TLS is terminated with that
 * certificate, and the plaintext stream is piped to the emulator listener for that host. The
 * emulator then sees `Host: graph.microsoft.com` and hands out links on its public bases, so every
 * follow-up request (next pages, download and upload URLs) comes back through here.
 *
 * Its own process, so its TLS work never shares an event loop with a measurement:
 *   node --import tsx bench/graph-proxy.ts <config.json>
 * config: { cert, key (PEM file paths), routes: { "graph.microsoft.com": 12345, … } } → prints {"port":N}
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';

interface ProxyConfig {
  cert: string;
  key: string;
  /** Host name (as the client CONNECTs to it) → emulator listener port on 127.0.0.1. */
  routes: Record<string, number>;
}

const configPath = process.argv[2];
if (!configPath) {
  process.stderr.write('usage: graph-proxy.ts <config.json>\n');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8')) as ProxyConfig;
const secureContext = createSecureContext({ cert: readFileSync(config.cert), key: readFileSync(config.key) });

const server = createServer((_req, res) => {
  res.writeHead(405, { 'content-type': 'text/plain' });
  res.end('only CONNECT is served here\n');
});

server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
  // A client that resets before its tunnel exists (or after a 403) must not end the proxy.
  client.on('error', () => client.destroy());
  const [host, port] = (req.url ?? '').split(':');
  const target = host ? config.routes[host.toLowerCase()] : undefined;
  if (target === undefined || (port !== undefined && port !== '443')) {
    client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
  if (head.length) client.unshift(head);
  // HTTP/1.1 only: the emulator speaks nothing else.
  const tls = new TLSSocket(client, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
  const upstream = connect(target, '127.0.0.1');
  upstream.setNoDelay(true);
  client.setNoDelay(true);
  const close = () => {
    tls.destroy();
    upstream.destroy();
  };
  // A reset from either side ends the pair; nothing else to do with the error.
  tls.on('error', close);
  upstream.on('error', close);
  tls.pipe(upstream);
  upstream.pipe(tls);
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n');
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  // Keep-alive tunnels would hold close() open.
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
});
