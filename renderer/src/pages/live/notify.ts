/**
 * Desktop notifications for new alarms through the standard Notification API
 * (the same object in Electron's renderer). Permission is only ever asked from
 * a button: browsers ignore, and users resent, prompts on page load.
 */
import type { StreamAlert } from '../../../../core/stream/api.ts';

export type NotifyPermission = 'unsupported' | NotificationPermission;

export function notifyPermission(): NotifyPermission {
  return typeof window.Notification === 'function' ? window.Notification.permission : 'unsupported';
}

/** Ask the user; resolves with the answer ('denied' also when the browser refuses to ask). */
export async function requestNotifyPermission(): Promise<NotifyPermission> {
  if (typeof window.Notification !== 'function') return 'unsupported';
  try {
    return await window.Notification.requestPermission();
  } catch {
    return window.Notification.permission;
  }
}

/**
 * One notification for a batch of alarms, replacing the previous one (same tag) so a busy
 * stream leaves one entry in the OS tray, not hundreds. Clicking it focuses the window.
 */
export function showAlarmNotification(batch: StreamAlert[], total: number): void {
  if (notifyPermission() !== 'granted' || batch.length === 0) return;
  const newest = batch[batch.length - 1]!;
  const devices = [...new Set(batch.map((a) => a.device))];
  const title = total === 1 ? `Alarm on ${newest.device}` : `${total} new alarms on ${devices.length === 1 ? devices[0] : `${devices.length}+ devices`}`;
  const sensors = newest.sensors.map((s) => s.sensor).join(', ');
  const body = `${newest.device}: score ${newest.score.toPrecision(3)} (threshold ${newest.threshold.toPrecision(3)})${sensors ? ` · ${sensors}` : ''}`;
  try {
    const n = new window.Notification(title, { body, tag: 'fleetlens-alarms' });
    n.onclick = () => {
      window.focus();
      n.close();
    };
  } catch {
    // Some platforms only allow notifications from a service worker; the in-page feed still shows the alarm.
  }
}
