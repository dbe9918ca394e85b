// Webcam access and frame grabbing for the Capture and Live tabs.

/** Opens the default camera at about 640 × 480 and shows it in `video`; returns the MediaStream. */
export async function startCamera(video) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error('This browser gives no camera access here; open the page as http://127.0.0.1 or http://localhost, or over HTTPS');
  }
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  video.srcObject = stream;
  await video.play();
  if (!video.videoWidth) await new Promise((resolve) => video.addEventListener('loadedmetadata', resolve, { once: true }));
  return stream;
}

export function stopCamera(video) {
  const stream = video.srcObject;
  if (stream) for (const track of stream.getTracks()) track.stop();
  video.srcObject = null;
}

const grabCanvas = document.createElement('canvas');

/**
 * Encodes the current video frame as JPEG, scaled down so it is at most `maxWidth` pixels
 * wide. Returns `{ blob, width, height }`, the size of the encoded frame.
 */
export async function grabFrame(video, maxWidth, quality = 0.85) {
  const scale = Math.min(1, maxWidth / video.videoWidth);
  const width = Math.round(video.videoWidth * scale);
  const height = Math.round(video.videoHeight * scale);
  grabCanvas.width = width;
  grabCanvas.height = height;
  grabCanvas.getContext('2d').drawImage(video, 0, 0, width, height);
  const blob = await new Promise((resolve) => grabCanvas.toBlob(resolve, 'image/jpeg', quality));
  return { blob, width, height };
}

/** Sizes an overlay canvas to the video's pixel size, so drawing uses video pixels. */
export function fitOverlay(canvas, video) {
  if (canvas.width !== video.videoWidth || canvas.height !== video.videoHeight) {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
  }
  return canvas.getContext('2d');
}
