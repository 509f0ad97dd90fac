// Runs a PAC file the way a browser does: in a fresh JavaScript context
// with the Netscape PAC built-ins, calling FindProxyForURL(url, host) for
// every [url, host] pair of a JSON table.
// Usage: node evaluate.js FILE.pac TABLE.json  -> JSON array of answers.
"use strict";
const fs = require("fs");
const vm = require("vm");

const [pacPath, tablePath] = process.argv.slice(2);
const sandbox = {
  // Built-ins a PAC file may call; ours must not need DNS.
  dnsResolve() { throw new Error("the PAC file resolved a name"); },
  myIpAddress() { return "127.0.0.1"; },
  isPlainHostName(h) { return h.indexOf(".") < 0; },
  dnsDomainIs(h, d) { return h.length >= d.length && h.substring(h.length - d.length) === d; },
  shExpMatch(s, p) {
    const re = new RegExp("^" + p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$");
    return re.test(s);
  },
};
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(pacPath, "utf8"), sandbox, { filename: pacPath });
const table = JSON.parse(fs.readFileSync(tablePath, "utf8"));
const answers = table.map(([url, host]) => sandbox.FindProxyForURL(url, host));
process.stdout.write(JSON.stringify(answers));
