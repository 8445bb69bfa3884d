// Sends OSC messages from a schedule file, paced in real time, with osc.js (npm "osc"):
// a sender written by neither the rig nor liblo. Each line of the file:
//   SECONDS ADDRESS TYPES ARG...      e.g. "0.04 /EmotiBit/0/PPG:IR fff 1.0 2.0 3.0"
// usage: node send.js FILE HOST PORT [LOCAL_HOST]
"use strict";
const fs = require("fs");
const osc = require("osc");

const [file, host, port, local] = process.argv.slice(2);
const schedule = fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((line) => {
  const [t, address, types, ...args] = line.trim().split(/\s+/);
  return {
    t: Number(t),
    packet: {
      address,
      args: [...types].map((type, i) => ({ type, value: type === "s" ? args[i] : Number(args[i]) })),
    },
  };
});

const udp = new osc.UDPPort({
  localAddress: local || "127.0.0.1",
  localPort: 0,
  remoteAddress: host,
  remotePort: Number(port),
});
udp.on("error", (err) => { console.error(String(err)); process.exitCode = 1; });
udp.on("ready", () => {
  const start = process.hrtime.bigint();
  let i = 0;
  const pump = () => {
    const now = Number(process.hrtime.bigint() - start) / 1e9;
    while (i < schedule.length && schedule[i].t <= now) {
      udp.send(schedule[i].packet);
      i += 1;
    }
    if (i < schedule.length) {
      setTimeout(pump, Math.max(0, (schedule[i].t - now) * 1000 - 1));
    } else {
      console.log(`sent ${schedule.length} messages`);
      setTimeout(() => udp.close(), 50);
    }
  };
  pump();
});
udp.open();
