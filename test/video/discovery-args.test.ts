import t from 'tap';
import { join } from 'node:path';
import { listUsbVideo } from '../../drivers/discovery/usb-video.js';
import { redactUrl, rtspArgs, simRecordArgs, v4l2Args } from '../../drivers/video/ffmpeg-args.js';
import { FakeSys } from '../helpers/fake-sysfs.js';

t.test('UVC video nodes from sysfs: ids, names, capture vs metadata node; others left out', async (t) => {
  const fs = new FakeSys();
  t.teardown(() => fs.remove());
  fs.builtIn();
  fs.uvc('video0', '1-3', '00', 0, { idVendor: '046D', idProduct: '082d', serial: 'ABC123', product: 'HD Pro Webcam C920' }, 'HD Pro Webcam C920');
  fs.uvc('video1', '1-3', '00', 1, { idVendor: '046D', idProduct: '082d' }, 'HD Pro Webcam C920');
  fs.uvc('video10', '1-4', '00', 0, { idVendor: '2e3a', idProduct: '0007' }, 'Body Camera');
  fs.platformVideo('video2');
  const list = listUsbVideo(fs.sys, fs.dev);
  t.same(list.map((v) => v.path), ['video0', 'video1', 'video10'].map((n) => join(fs.dev, n)), 'USB nodes only, natural order');
  t.same(list[0], {
    path: join(fs.dev, 'video0'), index: 0, capture: true, vendorId: '046d', productId: '082d', usbPort: '1-3',
    spec: `v4l2:${join(fs.dev, 'video0')}`, name: 'HD Pro Webcam C920', serial: 'ABC123', product: 'HD Pro Webcam C920', interface: '00',
  });
  t.equal(list[1]!.capture, false, 'the metadata node gives no pictures');
  t.equal(list[2]!.usbPort, '1-4');
  t.same(listUsbVideo('/nonexistent-sys', '/dev'), [], 'a missing tree is an empty list');
  t.ok(Array.isArray(listUsbVideo()), 'the real /sys is read without a crash');
});

t.test('ffmpeg arguments: V4L2 H.264 passthrough copies, MJPEG is transcoded under the cap', async (t) => {
  const pass = v4l2Args({ device: '/dev/video0', input: 'h264', fps: 25, width: 1280, height: 720, kbps: 0 });
  t.same(pass.slice(pass.indexOf('-f')), ['-f', 'v4l2', '-input_format', 'h264', '-framerate', '25', '-video_size', '1280x720', '-i', '/dev/video0', '-an', '-c:v', 'copy', '-bsf:v', 'dump_extra=freq=keyframe', '-flush_packets', '1', '-f', 'h264', 'pipe:1']);
  const mj = v4l2Args({ device: '/dev/video2', input: 'mjpeg', fps: 15, kbps: 800 });
  t.ok(mj.includes('mjpeg'));
  t.same(mj.slice(mj.indexOf('-b:v'), mj.indexOf('-b:v') + 6), ['-b:v', '800k', '-maxrate', '800k', '-bufsize', '400k']);
  t.same(mj.slice(mj.indexOf('-c:v'), mj.indexOf('-c:v') + 2), ['-c:v', 'libx264']);
  t.ok(mj.join(' ').includes('-x264-params aud=1:repeat-headers=1'), 'AUDs and SPS/PPS on every keyframe');
  t.ok(mj.join(' ').includes('-g 15'), 'a keyframe every second');
  t.throws(() => v4l2Args({ device: 'video0', input: 'h264', fps: 25, kbps: 0 }), /must be a \/dev path/);
});

t.test('ffmpeg arguments: RTSP over TCP with a socket timeout, passthrough; URLs redacted for logs', async (t) => {
  const a = rtspArgs({ url: 'rtsp://admin:secret@10.0.0.5:554/stream1' });
  t.same(a.slice(a.indexOf('-rtsp_transport'), a.indexOf('-rtsp_transport') + 4), ['-rtsp_transport', 'tcp', '-timeout', '5000000']);
  t.ok(a.join(' ').includes('-i rtsp://admin:secret@10.0.0.5:554/stream1 -an -map 0:v:0 -c:v copy'));
  t.equal(redactUrl('rtsp://admin:secret@10.0.0.5:554/stream1'), 'rtsp://admin:***@10.0.0.5:554/stream1');
  t.equal(redactUrl('rtsp://10.0.0.5/s'), 'rtsp://10.0.0.5/s');
  t.throws(() => rtspArgs({ url: 'http://x' }), /rtsp:\/\//);
});

t.test('simulator recording: fragmented MP4, filter values escaped', async (t) => {
  const a = simRecordArgs({ width: 640, height: 360, fps: 15, textFile: '/tmp/a:b.txt', out: '/tmp/x.mp4' });
  t.ok(a.join(' ').includes('textfile=/tmp/a\\:b.txt'), 'a colon in a path cannot split the filter');
  t.ok(a.includes('+frag_keyframe+empty_moov+default_base_moof'));
});
