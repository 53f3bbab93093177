#!/usr/bin/python3
"""A real RTSP server for tests: GStreamer's (gst-rtsp-server, through
python3-gi), serving a live H.264 test pattern the way a Wi-Fi camera does:
DESCRIBE/SETUP/PLAY, RTP over UDP or interleaved in the TCP connection,
SPS/PPS in the SDP and in front of every keyframe.

Debian: gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good
gstreamer1.0-plugins-ugly (x264enc).

Usage: rtsp-server.py [--port N] [--path /cam] [--width W] [--height H]
                      [--fps F] [--kbps K]
Prints "listening PORT" on stdout once clients can connect (port 0: the
kernel picks one), then serves until killed.
"""
import argparse
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--path', default='/cam')
    p.add_argument('--width', type=int, default=320)
    p.add_argument('--height', type=int, default=180)
    p.add_argument('--fps', type=int, default=15)
    p.add_argument('--kbps', type=int, default=300)
    a = p.parse_args()

    Gst.init(None)
    for element in ('videotestsrc', 'x264enc', 'rtph264pay'):
        if Gst.ElementFactory.find(element) is None:
            print(f'missing GStreamer element {element}', file=sys.stderr)
            return 2

    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    # A camera's encoder: live, baseline, no B-frames, a keyframe every second.
    factory.set_launch(
        '( videotestsrc is-live=true pattern=ball '
        f'! video/x-raw,width={a.width},height={a.height},framerate={a.fps}/1 '
        f'! x264enc tune=zerolatency speed-preset=ultrafast bitrate={a.kbps} key-int-max={a.fps} '
        '! video/x-h264,profile=constrained-baseline '
        '! rtph264pay name=pay0 pt=96 config-interval=-1 )'
    )
    # One encoder for every client, as a camera has.
    factory.set_shared(True)
    server.get_mount_points().add_factory(a.path, factory)
    if server.attach(None) == 0:
        print(f'cannot listen on 127.0.0.1:{a.port}', file=sys.stderr)
        return 1
    print(f'listening {server.get_bound_port()}', flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
