#!/usr/bin/env node
// Native optional dependencies on the node running this script, in the project
// of the current directory: ssh2's crypto binding (and cpu-features, which ssh2
// asks to order its ciphers) either load as native code built for this node, or
// ssh2 falls back to node's own crypto. Either way an SSH handshake (ssh2 server
// and client on 127.0.0.1, as dockerode opens DOCKER_HOST=ssh://) must work.
//
//   node .ci/native-deps.js [--expect-native]
//
// Exit 1 when the handshake fails, when an addon is there but was built for
// another node (the npm that installed it built it against the wrong headers:
// see README, "Node.js versions"), or, with --expect-native, when a binding is
// missing. Prints one JSON line.
'use strict';
const { join } = require('node:path');

const project = process.cwd();
const need = (name) => require(require.resolve(name, { paths: [project] }));
const dir = (name) => join(require.resolve(`${name}/package.json`, { paths: [project] }), '..');

/** 'native', or why the addon did not load ('missing', 'wrong ABI: ...', another error). */
function addon(file) {
  try {
    require(file);
    return 'native';
  } catch (err) {
    if (err.code === 'MODULE_NOT_FOUND') return 'missing (fallback)';
    const abi = /NODE_MODULE_VERSION (\d+)/.exec(err.message);
    if (abi) return `wrong ABI: built for NODE_MODULE_VERSION ${abi[1]}, this node needs ${process.versions.modules}`;
    // An addon built for an older node registers under that node's symbol, which this node does not look for.
    if (err.message.includes('did not self-register')) return `wrong ABI: not built for NODE_MODULE_VERSION ${process.versions.modules} (did not self-register)`;
    return `fails to load: ${err.message.split('\n')[0]}`;
  }
}

function handshake(ssh2) {
  const { Server, Client, utils } = ssh2;
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no SSH handshake within 10 s')), 10_000);
    const server = new Server({ hostKeys: [hostKey] }, (conn) => {
      conn.on('authentication', (ctx) => (ctx.method === 'password' && ctx.password === 'check' ? ctx.accept() : ctx.reject(['password'])));
      conn.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () => {
      const client = new Client();
      let cipher = '';
      client.on('handshake', (negotiated) => (cipher = negotiated.cs.cipher));
      client.on('ready', () => {
        clearTimeout(timer);
        client.end();
        server.close();
        resolve(cipher);
      });
      client.on('error', (err) => {
        clearTimeout(timer);
        server.close();
        reject(err);
      });
      client.connect({ host: '127.0.0.1', port: server.address().port, username: 'ci', password: 'check' });
    });
  });
}

async function main() {
  const expectNative = process.argv.includes('--expect-native');
  // The addons first: once ssh2 has tried one, a second load reports only "did not self-register".
  const report = {
    node: process.version,
    abi: process.versions.modules,
    sshcrypto: addon(join(dir('ssh2'), 'lib', 'protocol', 'crypto', 'build', 'Release', 'sshcrypto.node')),
    cpuFeatures: addon(join(dir('cpu-features'), 'build', 'Release', 'cpufeatures.node')),
  };
  const ssh2 = need('ssh2');
  report.ssh2UsesBinding = need('ssh2/lib/protocol/crypto.js').bindingAvailable;
  try {
    report.handshakeCipher = await handshake(ssh2);
  } catch (err) {
    report.handshakeError = err.message;
  }
  console.log(JSON.stringify(report));
  const problems = [];
  if (report.handshakeError) problems.push(`an SSH handshake with ssh2 failed: ${report.handshakeError}`);
  for (const name of ['sshcrypto', 'cpuFeatures']) {
    if (report[name].startsWith('wrong ABI') || report[name].startsWith('fails')) problems.push(`${name}: ${report[name]}`);
    else if (expectNative && report[name] !== 'native') problems.push(`${name}: ${report[name]} (--expect-native)`);
  }
  for (const p of problems) console.error(`native-deps: ${p}`);
  process.exitCode = problems.length > 0 ? 1 : 0;
}

main();
