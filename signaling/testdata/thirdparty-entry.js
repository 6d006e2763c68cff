// esbuild entry: expose the third-party clients to the test pages.
import { WHIPClient } from '@eyevinn/whip-web-client';
import { WebRTCPlayer } from '@eyevinn/webrtc-player';
window.WHIPClient = WHIPClient;
window.WebRTCPlayer = WebRTCPlayer;
