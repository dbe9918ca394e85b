/** facekit's public API. Everything a user imports comes from here, by name. */
export { ERROR_CODES, FacekitError, isFacekitError, type ErrorCode } from './errors.js';
export { setDefaultLogger, silentLogger, type Logger } from './logger.js';
export type { BoxPx, PointPx, RgbImage } from './types.js';
export { VERSION } from './version.js';

export { decodeImage, encodeImage, DEFAULT_MAX_PIXELS, type DecodeOptions, type DecodedImage } from './image/decode.js';
export { annotateImage, MARK_COLORS, type Annotation, type AnnotateOptions } from './image/annotate.js';

export { MODELS, isModelAvailable, type ModelId, type ModelSpec } from './models/registry.js';
export { DEFAULT_DETECTOR_OPTIONS, FaceDetector, type DetectedFace, type FaceDetectorOptions } from './detect/detector.js';
export { alignFace, type AlignOptions } from './align/warp.js';
export { Embedder, type EmbedderOptions } from './embed/embedder.js';
export { FacePipeline, largestFace, type AnalyzedFace, type FacePipelineOptions } from './embed/face-pipeline.js';
export { detectFaces, type DetectFacesOptions } from './detect/detect-faces.js';

export { scanDataset, UNKNOWN_FOLDER, type ScannedDataset, type ScanOptions } from './dataset/scan.js';
export {
  CAPTURE_DEFAULTS,
  SampleCollector,
  captureSamples,
  validatePersonName,
  type QualityGates,
} from './dataset/capture.js';
export { AUDIT_DEFAULTS, auditDataset, quickAudit, renderAuditMarkdown, type AuditReport } from './dataset/audit.js';
export { prepareImages, defaultCacheDir, type PreparedImage, type PrepareOptions } from './dataset/prepare.js';

export { train, TRAIN_DEFAULTS, type TrainEvent, type TrainOptions, type TrainResult } from './train/train.js';
export { FIT_DEFAULTS, type FitEvent } from './train/fit.js';
export { evaluateModel, type EvaluateOptions, type EvaluationReport } from './train/evaluate.js';
export { loadModel, saveModel, type LoadedModel, type TrainedModel } from './store/model-store.js';

export {
  createRecognizer,
  RECOGNIZE_LOOKAHEAD,
  UNKNOWN_LABEL,
  type ImageInput,
  type RecognitionOutcome,
  type RecognitionResult,
  type RecognizedFace,
  type Recognizer,
  type RecognizerOptions,
} from './recognize/recognizer.js';

export { createServer, type FacekitServer } from './server/server.js';
export { SERVER_DEFAULTS, type ServerLimits, type ServerOptions } from './server/options.js';
