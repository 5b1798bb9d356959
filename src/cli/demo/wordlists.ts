// Small word lists for the demo's synthetic people. Everything generated is fictional: e-mail domains
// are the reserved example.* ones, phone numbers use fictional ranges, IP addresses the documentation
// ranges of RFC 5737.

export const FIRST_NAMES = [
  'ada', 'alex', 'amara', 'ana', 'aiko', 'ben', 'carla', 'chen', 'dario', 'dev', 'elena', 'emma', 'farah', 'felix', 'gabriel',
  'hana', 'ines', 'ivan', 'jade', 'jonas', 'kai', 'kavya', 'lars', 'lea', 'lucas', 'maya', 'mateo', 'mei', 'nadia', 'noah',
  'omar', 'olivia', 'priya', 'rafael', 'rosa', 'sami', 'sara', 'sven', 'tariq', 'una', 'valentina', 'wei', 'yara', 'yusuf', 'zoe',
] as const;

export const LAST_NAMES = [
  'almeida', 'becker', 'costa', 'dubois', 'eriksen', 'fischer', 'garcia', 'haddad', 'ito', 'jansen', 'kowalski', 'larsen', 'moreau',
  'nakamura', 'novak', 'okafor', 'patel', 'quinn', 'rossi', 'santos', 'schmidt', 'silva', 'tanaka', 'varga', 'walker', 'weber',
  'yilmaz', 'zhang', 'murphy', 'lopez', 'kim', 'nguyen', 'singh', 'muller', 'bianchi',
] as const;

export const EMAIL_DOMAINS = ['example.com', 'example.org', 'example.net'] as const;

export const CITIES: Readonly<Record<string, readonly string[]>> = {
  US: ['New York', 'Los Angeles', 'Chicago', 'Houston', 'Phoenix', 'Seattle', 'Austin', 'Miami'],
  PR: ['San Juan', 'Ponce'],
  DE: ['Berlin', 'Hamburg', 'Munich', 'Cologne'],
  FR: ['Paris', 'Lyon', 'Marseille'],
  ES: ['Madrid', 'Barcelona', 'Valencia'],
  IT: ['Rome', 'Milan', 'Naples'],
  NL: ['Amsterdam', 'Rotterdam'],
  PL: ['Warsaw', 'Krakow'],
  SE: ['Stockholm', 'Gothenburg'],
  IE: ['Dublin', 'Cork'],
  AT: ['Vienna', 'Graz'],
  BR: ['Sao Paulo', 'Rio de Janeiro', 'Brasilia'],
  IN: ['Mumbai', 'Delhi', 'Bengaluru', 'Chennai'],
  JP: ['Tokyo', 'Osaka', 'Sapporo'],
  SG: ['Singapore'],
  GB: ['London', 'Manchester'],
  CA: ['Toronto', 'Vancouver'],
};

/** Country calling codes for the synthetic phone numbers. */
export const DIAL_CODES: Readonly<Record<string, string>> = {
  US: '1', PR: '1', DE: '49', FR: '33', ES: '34', IT: '39', NL: '31', PL: '48', SE: '46', IE: '353', AT: '43',
  BR: '55', IN: '91', JP: '81', SG: '65', GB: '44', CA: '1',
};

export const DEVICE_MODELS = ['Pixel 8', 'Pixel 7a', 'iPhone 15', 'iPhone 13 mini', 'Galaxy S23', 'Galaxy A54', 'Xperia 10', 'Moto G84', 'iPad Air', 'Fire HD 10'] as const;
export const OPERATING_SYSTEMS = ['Android 14', 'Android 13', 'iOS 17.4', 'iOS 16.7', 'iPadOS 17.4', 'Fire OS 8'] as const;

export const MESSAGE_OPENERS = ['hey', 'hi', 'did you see', 'lol', 'ok so', 'quick question:', 'thanks for', 'guess what:', 'honestly', 'remember'] as const;
export const MESSAGE_TOPICS = [
  'the cooking video from yesterday', 'that dance challenge', 'my new setup', 'the concert tickets', 'our trip next month',
  'the cat compilation', 'your last upload', 'the study group', 'the match on sunday', 'that recipe',
] as const;
export const MESSAGE_CLOSERS = ['', '!', '?', ' :)', ' — call me later', ' haha', ', send it over', '...'] as const;

export const TITLE_WORDS_A = ['Quick', 'Easy', 'Ultimate', 'Tiny', 'Late-night', 'Sunday', 'Budget', 'Epic', 'Calm', 'Honest'] as const;
export const TITLE_WORDS_B = ['pasta', 'skate trick', 'desk tour', 'guitar cover', 'street food', 'puppy', 'sunrise timelapse', 'workout', 'magic trick', 'room makeover'] as const;
export const TITLE_SUFFIXES = ['', ' (part 2)', ' in 60 seconds', ' gone wrong', ' for beginners', ' #shorts', ' — day 3'] as const;

export const COMMENTS = [
  'love this', 'so good', 'first!', 'how did you do that?', 'this made my day', 'need a tutorial', 'the ending though',
  'watching from home', 'underrated', 'song name?', 'again please', 'I tried this and it worked', 'wow', 'saved for later',
] as const;
