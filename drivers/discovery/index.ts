/** USB discovery from sysfs (never udevadm). */
export { listUsbTtys, matchesAny, type UsbTty, type UsbMatch } from './usb-tty.js';
export { UsbWatcher, type UsbWatcherOptions } from './usb-watcher.js';
export { listUsbVideo, type UsbVideo } from './usb-video.js';
