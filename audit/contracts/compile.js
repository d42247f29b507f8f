// Compiles AuditAnchor.sol with the pinned solc-js (no network, no native compiler) and writes
// AuditAnchor.json (ABI, bytecode, method ids). With --check it only compares with the committed file.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const here = __dirname;
const source = fs.readFileSync(path.join(here, 'AuditAnchor.sol'), 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'AuditAnchor.sol': { content: source } },
  settings: {
    evmVersion: 'paris', // no PUSH0: runs on ganache 7, py-evm and any post-merge chain
    optimizer: { enabled: true, runs: 200 },
    // No metadata hash (and no CBOR tail): the bytecode depends on the source and settings only.
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}
const c = output.contracts['AuditAnchor.sol'].AuditAnchor;
const artifact = {
  contractName: 'AuditAnchor',
  compiler: { name: 'solc-js', version: solc.version(), settings: input.settings },
  abi: c.abi,
  bytecode: '0x' + c.evm.bytecode.object,
  deployedBytecode: '0x' + c.evm.deployedBytecode.object,
  methodIdentifiers: c.evm.methodIdentifiers,
};
const text = JSON.stringify(artifact, null, 2) + '\n';
const target = path.join(here, 'AuditAnchor.json');
if (process.argv.includes('--check')) {
  const committed = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
  if (committed !== text) {
    console.error('AuditAnchor.json differs from a fresh compile; run `npm run compile` in audit/contracts.');
    process.exit(2);
  }
  console.log('AuditAnchor.json matches a fresh compile (' + solc.version() + ').');
} else {
  fs.writeFileSync(target, text);
  console.log('wrote ' + target);
}
