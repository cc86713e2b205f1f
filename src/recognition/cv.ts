/**
 * Loads OpenCV's native bindings (@u4/opencv4nodejs, built against the system's OpenCV at install time).
 * The binding must never try to compile OpenCV at run time, and its "Info:" lines must not reach stdout,
 * where `--json` output goes.
 */
process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';
const { Log } = await import('@u4/opencv-build');
Log.silence = true;
const mod = await import('@u4/opencv4nodejs');

export const cv = mod.default;
// The binding reports every Mat allocation to V8. OpenCV's own thread pool allocating from its threads trips a
// fatal V8 check ("marking_done_") under garbage collection, so OpenCV runs each call on the calling thread; the
// unit's parallelism comes from OCR workers and frame scheduling instead.
cv.setNumThreads(1);
export type Mat = InstanceType<typeof cv.Mat>;
export type Rect = InstanceType<typeof cv.Rect>;
