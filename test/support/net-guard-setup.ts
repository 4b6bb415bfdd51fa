// Every test file runs under the network guard: a connection or name lookup that would leave this
// machine fails the test that made it (tests and benchmarks only ever talk to this machine).
// Child processes (workers, FFmpeg, curl, kubectl, helm, the reference's Python client) are out of
// its reach, so their environment is made safe too: no proxy for anything (a proxy set on the CI
// machine would turn a loopback request into one to the proxy), and the AWS SDK never asks the
// cloud metadata address for credentials.
import { installNetGuard } from './net-guard.ts';

installNetGuard();
for (const name of ['NO_PROXY', 'no_proxy']) process.env[name] = '*';
for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete process.env[name];
process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
