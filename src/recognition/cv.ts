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
export type Mat = InstanceType<typeof cv.Mat>;
export type Rect = InstanceType<typeof cv.Rect>;
