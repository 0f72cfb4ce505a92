// Calendar days and wall-clock times in Europe/Amsterdam, whatever the device's own zone.
// A day is a 'YYYY-MM-DD' string (Amsterdam's calendar); instants are Date objects.

import { currentLanguage } from './i18n.js';

const ZONE = 'Europe/Amsterdam';
const LOCALES = { nl: 'nl-NL', en: 'en-GB' };
const partsFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: ZONE,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

function locale() {
  return LOCALES[currentLanguage()] || 'nl-NL';
}

// The wall-clock fields of an instant in Amsterdam.
export function wall(instant) {
  const parts = {};
  for (const part of partsFormat.formatToParts(instant)) parts[part.type] = part.value;
  return {
    day: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${parts.hour}:${parts.minute}`,
    fields: [+parts.year, +parts.month, +parts.day, +parts.hour, +parts.minute, +parts.second],
  };
}

export function today() {
  return wall(new Date()).day;
}

export function dayOf(instant) {
  return wall(instant).day;
}

export function isDay(text) {
  return /^\d{4}-\d{2}-\d{2}$/.test(text || '') && !Number.isNaN(Date.parse(`${text}T12:00:00Z`));
}

function utcNoon(day) {
  const [year, month, date] = day.split('-').map(Number);
  return new Date(Date.UTC(year, month - 1, date, 12));
}

function dayFromUtc(date) {
  return date.toISOString().slice(0, 10);
}

export function addDays(day, count) {
  const date = utcNoon(day);
  date.setUTCDate(date.getUTCDate() + count);
  return dayFromUtc(date);
}

// 0 Monday … 6 Sunday (as the API counts).
export function weekday(day) {
  return (utcNoon(day).getUTCDay() + 6) % 7;
}

export function mondayOf(day) {
  return addDays(day, -weekday(day));
}

// The ISO 8601 week number.
export function weekNumber(day) {
  const thursday = utcNoon(addDays(day, 3 - weekday(day)));
  const week1Monday = utcNoon(mondayOf(`${thursday.getUTCFullYear()}-01-04`));
  return 1 + Math.round((thursday - week1Monday) / (7 * 24 * 3600 * 1000));
}

// The instant at wall-clock time 'HH:MM' on an Amsterdam day (across daylight saving).
export function instantAt(day, time = '00:00') {
  const [year, month, date] = day.split('-').map(Number);
  const [hour, minute] = time.split(':').map(Number);
  const wanted = Date.UTC(year, month - 1, date, hour, minute);
  let guess = wanted;
  for (let i = 0; i < 3; i += 1) {
    const [y, mo, d, hh, mi, ss] = wall(new Date(guess)).fields;
    const seen = Date.UTC(y, mo - 1, d, hh, mi, ss);
    guess += wanted - seen;
  }
  return new Date(guess);
}

export function formatTime(instant) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: ZONE,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(instant);
}

export function formatRange(starts, ends) {
  return `${formatTime(starts)}–${formatTime(ends)}`;
}

function formatDayWith(day, options) {
  return new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', ...options }).format(utcNoon(day));
}

// 'ma 30 nov' / 'Mon 30 Nov'
export function formatShortDay(day) {
  return formatDayWith(day, { weekday: 'short', day: 'numeric', month: 'short' });
}

// 'maandag 30 november 2026'
export function formatLongDay(day) {
  return formatDayWith(day, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

// '30 november – 6 december 2026'
export function formatDaySpan(first, last) {
  const format = new Intl.DateTimeFormat(locale(), {
    timeZone: 'UTC',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  });
  return format.formatRange(utcNoon(first), utcNoon(last));
}

export function formatWhen(instant) {
  return new Intl.DateTimeFormat(locale(), {
    timeZone: ZONE,
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(instant);
}
