// The Node/Express peer of SPEC §10, as a small business's developer would write it:
// Express, the official twilio.webhook() signature check, better-sqlite3 (WAL,
// synchronous=NORMAL), one row per call keyed by its CallSid, then fixed TwiML.
// Usage: node server.js PORT AUTH_TOKEN DIR   (writes DIR/node-ready once listening)
const path = require('path');
const fs = require('fs');
const express = require('express');
const twilio = require('twilio');
const Database = require('better-sqlite3');

const [port, token, dir] = process.argv.slice(2);
const db = new Database(path.join(dir, 'node-peer.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS calls (call_sid TEXT PRIMARY KEY, from_number TEXT, to_number TEXT, at TEXT)');
const insert = db.prepare('INSERT OR IGNORE INTO calls (call_sid, from_number, to_number, at) VALUES (?, ?, ?, ?)');

const app = express();
app.use(express.urlencoded({ extended: false }));
app.post(
  '/twilio/voice',
  twilio.webhook(token, { url: `http://127.0.0.1:${port}/twilio/voice` }),
  (req, res) => {
    insert.run(req.body.CallSid, req.body.From, req.body.To, new Date().toISOString());
    res
      .type('text/xml')
      .send('<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thanks for calling.</Say></Response>');
  },
);
app.listen(Number(port), '127.0.0.1', () => fs.writeFileSync(path.join(dir, 'node-ready'), ''));
