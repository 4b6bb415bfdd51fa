// Every test file runs under the network guard: a connection to anything but a loopback address
// fails the test that made it (tests and benchmarks only ever talk to this machine).
import { installNetGuard } from './net-guard.ts';

installNetGuard();
