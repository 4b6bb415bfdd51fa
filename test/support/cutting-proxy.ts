// A loopback TCP proxy that cuts event-stream connections in the middle of an event, to test
// that a client resumes them: the n-th connection carrying GET .../events is cut after
// cutAfter[n] complete events, a few bytes into the next one. Everything else passes through.
// It records each events request's Last-Event-ID header.
import net from 'node:net';

export interface CuttingProxy {
  url: string;
  /** One entry per events request, in order: the Last-Event-ID it sent, and whether it was cut. */
  eventRequests: { lastEventId: string | undefined; cut: boolean }[];
  close(): Promise<void>;
}

export async function startCuttingProxy(upstreamPort: number, cutAfter: readonly number[]): Promise<CuttingProxy> {
  const eventRequests: CuttingProxy['eventRequests'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);

    // Which events request (if any) the bytes coming back belong to: HTTP/1.1 without pipelining,
    // so the answer after a request line is that request's.
    let request = -1;
    let answer = '';
    let forwarded = 0;
    client.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      const line = /^(GET|POST|DELETE|HEAD) (\S+) HTTP\/1\.1/m.exec(text);
      if (line) {
        request = line[1] === 'GET' && /\/events(\?|$)/.test(line[2] ?? '') ? eventRequests.push({ lastEventId: /^last-event-id: *(\S+)/im.exec(text)?.[1], cut: false }) - 1 : -1;
        answer = '';
        forwarded = 0;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      const limit = request >= 0 ? cutAfter[request] : undefined;
      if (limit === undefined) {
        client.write(d);
        return;
      }
      answer += d.toString('latin1');
      // The (limit+1)-th event's start: each event begins with "id: " on a line of its own.
      let at = -1;
      for (let i = 0, from = 0; i <= limit; i++) {
        at = answer.indexOf('\nid: ', from);
        if (at === -1) break;
        from = at + 1;
      }
      if (at === -1) {
        client.write(d);
        forwarded = answer.length;
        return;
      }
      const entry = eventRequests[request];
      if (entry) entry.cut = true;
      client.write(Buffer.from(answer.slice(forwarded, at + 8), 'latin1'), () => drop());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    eventRequests,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
