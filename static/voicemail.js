// Voicemail: each message with who left it, Call back / Text back, the transcript (or why
// there is none), the recording played through the appliance, and Mark handled. Each has
// its own address (`#voicemail/42`), which shows it highlighted.

import { api } from './api.js';
import { $, show, formatTime, contactLinks, inboxChanged, shown } from './ui.js';

let me = null;
let handleError = (e) => { throw e; };

export async function loadVoicemail(current, onError, selected) {
  me = current;
  handleError = onError;
  const { voicemails, recordingRetentionDays: days } = await api('GET', '/api/voicemails?limit=100');
  const list = $('voicemail-list');
  list.replaceChildren();
  for (const v of voicemails) {
    const card = document.createElement('div');
    card.className = 'card voicemail' + (v.handled ? ' handled' : '');
    card.id = `voicemail-${v.id}`;
    const head = document.createElement('p');
    head.className = 'vm-head';
    const link = document.createElement('a');
    link.href = `#voicemail/${v.id}`;
    link.textContent = `${shown(v, 'fromNumber') || 'Unknown caller'} · ${formatTime(v.createdAt)}`;
    head.append(link, v.durationSeconds == null ? '' : ` · ${v.durationSeconds} s`);
    const text = document.createElement('p');
    text.className = 'vm-transcript';
    // Twilio transcribes recordings of 2 to 120 seconds only.
    text.textContent = v.purgedAt
      ? `Recording and transcript deleted after ${days ? `${days} days` : 'the business\'s retention period'} (Settings → Business).`
      : v.transcriptionText
      || (v.transcriptionStatus === 'pending' ? 'Transcript on its way…'
        : v.durationSeconds > 120 ? 'Longer than 2 minutes, so not transcribed: listen to the recording.'
          : 'No transcript for this message.');
    card.append(head, text);
    if (v.recordingSid && !v.purgedAt) {
      const audio = document.createElement('audio');
      audio.controls = true;
      audio.preload = 'none';
      audio.src = `/api/voicemails/${v.id}/recording`;
      card.append(audio);
    }
    if (me.user.role !== 'viewer') {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'secondary';
      b.textContent = v.handled ? 'Mark as new' : 'Mark handled';
      b.addEventListener('click', async () => {
        b.disabled = true;
        try {
          await api('PATCH', `/api/voicemails/${v.id}`, { handled: !v.handled });
          inboxChanged();
          await loadVoicemail(me, handleError);
        } catch (e) {
          b.disabled = false;
          handleError(e);
        }
      });
      card.append(b);
    }
    card.append(contactLinks(v.fromNumber, shown(v, 'fromNumber'), v.callId));
    list.append(card);
  }
  show($('voicemail-empty'), voicemails.length === 0);
  const chosen = selected && $(`voicemail-${selected}`);
  show($('voicemail-missing'), Boolean(selected) && !chosen);
  if (chosen) {
    chosen.classList.add('selected');
    chosen.tabIndex = -1;
    chosen.scrollIntoView({ block: 'start' });
    chosen.focus();
  }
}
