// Synthetic record contents: plausible sizes (a user profile, short private messages), generated from
// the subject's index so every seed produces the same bytes.
import { randomInt, seededRandom } from './prng.ts';

const WORDS = ['hello', 'see', 'you', 'tomorrow', 'at', 'the', 'station', 'thanks', 'for', 'sending', 'photos', 'lunch', 'meeting', 'moved', 'to', 'friday', 'call', 'me', 'when', 'free', 'great', 'idea', 'running', 'late', 'sorry'];

function sentence(next: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[randomInt(next, WORDS.length)] ?? 'ok');
  return out.join(' ');
}

export function userData(i: number, subject: string): Record<string, string> {
  const next = seededRandom(i * 2 + 1);
  const year = 1950 + randomInt(next, 55);
  const month = String(1 + randomInt(next, 12)).padStart(2, '0');
  const day = String(1 + randomInt(next, 28)).padStart(2, '0');
  return {
    user_id: subject,
    username: `user${i}`,
    email: `user${i}@example.com`,
    phone: `+1555${String(randomInt(next, 10_000_000)).padStart(7, '0')}`,
    birthdate: `${year}-${month}-${day}`,
  };
}

export function messageData(i: number, k: number, subject: string, subjects: number): Record<string, string> {
  const next = seededRandom(i * 131 + k);
  const sent = Date.UTC(2024, 0, 1) + randomInt(next, 365 * 24 * 3600) * 1000;
  return {
    sender_id: subject,
    recipient_id: `s${randomInt(next, subjects)}`,
    body: sentence(next, 8 + randomInt(next, 30)),
    sent_at: new Date(sent).toISOString(),
  };
}
