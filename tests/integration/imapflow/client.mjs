// Drives packmaild with imapflow for tests/integration/imap_imapflow_test.py.
//
// Usage: node client.mjs '<json options>'
//   host, port, user, pass: where and who
//   mode: "starttls" (plain connect, then STARTTLS) or "tls" (implicit TLS)
//   ca: path of a PEM to trust (the server's self-signed cert); without it
//       the certificate is not checked (tls.rejectUnauthorized false)
//   deadline_ms: the whole run must finish within this
//
// It reports on stdout, one JSON object a line, in this order:
//   {"event":"connected"}, {"event":"list"}, {"event":"opened"},
//   {"event":"messages"}, {"event":"flags"},
//   {"event":"idling"}        the server answered IDLE with "+": deliver now
//   {"event":"exists"}        the server pushed * N EXISTS during IDLE
//   {"event":"new_message"}   the pushed message, fetched after IDLE
//   {"event":"done"}          then exit 0
// On any failure: {"event":"error", ...} and exit 1; past the deadline, exit 2.
// The IMAP exchange goes to stderr ("C: "/"S: " lines) for diagnosis.

import { readFileSync } from 'node:fs';

import { ImapFlow } from 'imapflow';

const options = JSON.parse(process.argv[2]);

function report(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

setTimeout(() => {
  report('error', { message: `deadline of ${options.deadline_ms} ms passed` });
  process.exit(2);
}, options.deadline_ms);

// imapflow says when the server has accepted IDLE ("+" continuation) only in
// its debug log; this pinned version logs exactly this text.
const k_idle_started = 'Initiated IDLE, waiting for server input';
let on_idle_started = null;

function wire(entry) {
  if (entry && (entry.src === 's' || entry.src === 'c')) {
    process.stderr.write((entry.src === 's' ? 'S: ' : 'C: ') + entry.msg + '\n');
  }
}

const logger = {
  trace: wire, // untagged FETCH responses
  debug(entry) {
    wire(entry);
    if (entry && entry.msg === k_idle_started && on_idle_started) on_idle_started();
  },
  info: wire,
  warn: wire,
  error(entry) {
    wire(entry);
    if (entry && entry.err) process.stderr.write(`E: ${entry.err}\n`);
  },
};

const tls = options.ca
  ? { ca: [readFileSync(options.ca)], rejectUnauthorized: true }
  : { rejectUnauthorized: false };

const client = new ImapFlow({
  host: options.host,
  port: options.port,
  secure: options.mode === 'tls',
  doSTARTTLS: options.mode === 'starttls' ? true : undefined,
  tls,
  auth: { user: options.user, pass: options.pass },
  logger,
  disableAutoIdle: true,
  emitLogs: false,
});

function flag_list(flags) {
  return [...(flags || [])].sort();
}

async function run() {
  await client.connect();
  report('connected', {
    secure: client.secureConnection,
    capabilities: [...client.capabilities.keys()],
  });

  const mailboxes = await client.list();
  report('list', {
    mailboxes: mailboxes.map((m) => ({ path: m.path, special_use: m.specialUse || null })),
  });

  const lock = await client.getMailboxLock('INBOX');
  try {
    report('opened', {
      exists: client.mailbox.exists,
      uid_validity: String(client.mailbox.uidValidity),
      uid_next: client.mailbox.uidNext,
    });

    const messages = [];
    for await (const m of client.fetch(
      '1:*',
      { uid: true, flags: true, envelope: true, size: true, source: true, bodyParts: ['1'] },
    )) {
      messages.push({
        seq: m.seq,
        uid: m.uid,
        flags: flag_list(m.flags),
        size: m.size,
        subject: m.envelope.subject,
        from: m.envelope.from.map((a) => a.address),
        message_id: m.envelope.messageId,
        source: m.source.toString('utf8'),
        part1: m.bodyParts.get('1').toString('utf8'),
      });
    }
    report('messages', { messages });

    const first = messages[0].uid;
    const added = await client.messageFlagsAdd(String(first), ['\\Flagged', '\\Answered'], {
      uid: true,
    });
    const removed = await client.messageFlagsRemove(String(first), ['\\Seen'], { uid: true });
    const after = await client.fetchOne(String(first), { uid: true, flags: true }, { uid: true });
    report('flags', { uid: after.uid, flags: flag_list(after.flags), added, removed });

    const seen = new Promise((resolve) => {
      client.on('exists', (info) => resolve(info));
    });
    on_idle_started = () => {
      on_idle_started = null;
      report('idling');
    };
    const idle = client.idle();
    const info = await seen;
    report('exists', { count: info.count, prev_count: info.prevCount });
    // Any command breaks IDLE with DONE; the tagged OK then ends idle().
    const pushed = await client.fetchOne('*', { uid: true, envelope: true, flags: true });
    await idle;
    report('new_message', {
      uid: pushed.uid,
      subject: pushed.envelope.subject,
      flags: flag_list(pushed.flags),
    });
  } finally {
    lock.release();
  }
  await client.logout();
  report('done');
}

run().then(
  () => process.exit(0),
  (err) => {
    report('error', {
      message: String(err && err.message),
      code: err && err.code,
      response: err && (err.responseText || err.response || null),
    });
    process.exit(1);
  },
);
