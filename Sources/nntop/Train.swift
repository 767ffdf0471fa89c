import ArgumentParser
import Foundation
import Models
import TUI

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model (the default command: `nntop resnet18` is `nntop train resnet18`).")

    @Argument(help: "The model: \(ModelZoo.names.joined(separator: ", ")).")
    var model: String = "lenet5"

    @Option(parsing: .unconditional, help: "Passes over the training set (default: 5 for lenet5, 1 for resnet18).")
    var epochs: Int?
    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Images per step (default: 64).")
    var batchSize: Int?
    @Option(parsing: .unconditional, help: "The base learning rate, which the LR schedule scales (\(Trainer.lrRangeMessage)) (default: \(defaultsHelp(\.lr))).")
    var lr: Float?
    @Option(help: "sgd, momentum, nesterov or adam (default: momentum).")
    var optimizer: String?
    @Option(parsing: .unconditional, help: "Momentum for momentum and nesterov (default: 0.9).")
    var momentum: Float?
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "L2 weight decay (default: 0).")
    var weightDecay: Float?
    @Option(help: ArgumentHelp("LR schedule: cosine, step or constant (default: cosine; step when --milestones is given).",
        discussion: "cosine decays the LR to 0 by the run's end (after the warmup, if any); step multiplies it by --gamma at each of --milestones; constant keeps it. A change by hand (+, -, l, nntop lr RUN) sets the LR in effect from the next step and the schedule goes on from there, scaled: each later step's LR is yours times how much the schedule has moved since (the cosine still decays it, a milestone still multiplies it by γ, a warmup still raises it). A resumed run continues its schedule exactly."))
    var schedule: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("--schedule step's milestones, in epochs (fractional allowed), increasing: the first step after each uses the LR times --gamma.",
        discussion: "The Keras tutorial's 80,120,160,180. He et al.'s 32k and 48k iterations are 32000/S and 48000/S epochs at S steps per epoch: 81.8414,122.7621 at 391, 91.1681,136.7521 at 351 (--preset he2016: 45,000 images, batch 128).",
        valueName: "e1,e2,..."))
    var milestones: String?
    @Option(parsing: .unconditional, help: "--schedule step's factor at each milestone, in (0, 1] (default: 0.1).")
    var gamma: Float?
    @Option(parsing: .unconditional, help: ArgumentHelp("Linear warmup over the first N epochs (fractional allowed), for any schedule: the first step uses the LR over the warmup's step count, rising to the full LR at its end (default: 0, none).", valueName: "epochs"))
    var warmup: Double?
    @Flag(name: .customLong("no-residual"), help: "A ResNet without its shortcut connections (the plain network).")
    var noResidual = false
    @Option(name: .customLong("train-limit"), parsing: .unconditional, help: "Train on the first N training images only.")
    var trainLimit: Int?
    @Option(name: .customLong("val-size"), parsing: .unconditional, help: "Training images held out for validation, the last N (default: 5000).")
    var valSize: Int?
    @Option(name: .customLong("eval-every"), parsing: .unconditional, help: "Validate every N steps as well as at each epoch's end (default 0: epoch ends only).")
    var evalEvery: Int?
    @Option(name: .customLong("log-every"), parsing: .unconditional, help: "Log a metrics line (and print a progress line, headless) every N steps (default: \(defaultsHelp(\.logEvery))).")
    var logEvery: Int?
    @Option(parsing: .unconditional, help: "Worker threads for the kernels (default: all cores, \(ProcessInfo.processInfo.activeProcessorCount) here).")
    var threads: Int?
    @Option(parsing: .unconditional, help: "Seed for initialisation and shuffling.")
    var seed: UInt64 = 1
    @Option(help: "The data folder: MNIST or Fashion-MNIST idx files (raw or .gz), CIFAR-10/100 binary files, or class folders of images (default: the bundled assets/mnist).")
    var data: String?
    @Option(help: ArgumentHelp("What --data holds: \(DataSets.names.joined(separator: ", ")) (default: mnist).",
                               discussion: "Fashion-MNIST's files are MNIST's format: name it to get its class names and statistics."))
    var dataset: String?
    @Option(name: .customLong("image-size"), parsing: .unconditional, help: "Resize every image to N×N (default: folders 32, other data sets their stored size; MNIST and Fashion-MNIST's 28×28 digits are centred in a 32×32 input).")
    var imageSize: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Per-channel mean of pixels scaled to [0,1], comma-separated (one value: every channel).",
        discussion: "Default: MNIST 0.1307, CIFAR-10 0.4914,0.4822,0.4465; any other data set computes it from its training split once. Recorded in config.json and the checkpoints: eval and predict use it.",
        valueName: "m[,m,...]"))
    var mean: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Per-channel standard deviation, as --mean (MNIST 0.3081, CIFAR-10 0.2023,0.1994,0.2010).", valueName: "s[,s,...]"))
    var std: String?
    @Option(help: ArgumentHelp("Training-split augmentation: crop, flip, crop,flip or none (default: crop,flip for CIFAR, none otherwise).",
        discussion: "crop: a random crop of the input size after --pad pixels of zero padding on each side; flip: a horizontal mirror with probability 0.5. Flip is wrong for digits (a mirrored 2 is no digit) and text: nntop lets you, but expect worse accuracy. Each image's draw comes from --seed, the epoch and its position, so runs (and resumed runs) repeat exactly."))
    var augment: String?
    @Option(parsing: .unconditional, help: "Zero padding, in pixels on each side, before --augment crop's random crop (default: 4).")
    var pad: Int?
    @Option(help: ArgumentHelp("Option preset, for any model: \(TrainPreset.names.joined(separator: ", ")); options given too override it.",
        discussion: TrainPreset.all.map { "\($0.name): \($0.summary). Sets \($0.options)." }.joined(separator: "\n")))
    var preset: String?
    @Option(name: .customLong("stop-at-acc"), parsing: .unconditional, help: "End the run once test accuracy (checked at each evaluation) reaches this percentage: time-to-accuracy in one command.")
    var stopAtAcc: Double?
    @Option(name: .customLong("run-dir"), help: "Folder for this run's checkpoints (default: runs/<date>-<time>-<model>[-nores]-<dataset>).")
    var runDir: String?
    @Option(name: .customLong("save-every"), parsing: .unconditional, help: "Also write checkpoints/step-N.safetensors every N steps (default 0: never).")
    var saveEvery: Int?
    @Option(help: "Continue the run this checkpoint was saved from (weights, optimizer, step, data order, options; --epochs, --eval-every, --save-every and --log-every given here override the saved ones).")
    var resume: String?
    @Option(help: "Start from this checkpoint's weights (nntop's or PyTorch's state_dict as safetensors).")
    var weights: String?
    @Option(name: .customLong("compare"), help: ArgumentHelp(
        "Draw an earlier run's curves (its run folder) dimmed behind this run's, on the same axes; repeat for more runs.",
        discussion: "Dashboard only: a headless run checks the folders, says it ignores them, and trains.",
        valueName: "run"))
    var compare: [String] = []
    @Flag(help: "Print progress lines instead of the dashboard (automatic when stdout is not a terminal).")
    var headless = false
    @OptionGroup var display: DashboardFlags

    func validate() throws {
        guard ModelZoo.names.contains(model) else {
            throw ValidationError("unknown model '\(model)'; choose one of: \(ModelZoo.names.joined(separator: ", "))")
        }
        if let optimizer, OptimizerKind(rawValue: optimizer) == nil {
            throw ValidationError("unknown optimizer '\(optimizer)'; choose one of: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let dataset, DataKind(rawValue: dataset) == nil {
            throw ValidationError("unknown dataset '\(dataset)'; choose one of: \(DataKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let imageSize, !(1...4096).contains(imageSize) { throw ValidationError("--image-size must be between 1 and 4096 (got \(imageSize))") }
        if let schedule, LRSchedule.Kind(rawValue: schedule) == nil { throw ValidationError("--schedule must be cosine, step or constant (got \(schedule))") }
        if let milestones { do { _ = try LRSchedule.parseMilestones(milestones) } catch { throw ValidationError("\(error)") } }
        if milestones != nil, let schedule, schedule != "step" { throw ValidationError("--milestones are --schedule step's; --schedule \(schedule) has none") }
        if milestones == nil, schedule == "step", preset.flatMap(TrainPreset.named)?.milestones == nil { throw ValidationError("--schedule step needs --milestones, e.g. --milestones 80,120") }
        if let gamma, !(gamma > 0 && gamma <= 1) { throw ValidationError("--gamma must be in (0, 1] (got \(gamma))") }
        if gamma != nil, milestones == nil, preset.flatMap(TrainPreset.named)?.milestones == nil || (schedule ?? "step") != "step" { throw ValidationError("--gamma is --schedule step's factor at its --milestones: give those too") }
        if let warmup, !(warmup >= 0 && warmup.isFinite) { throw ValidationError("--warmup must be 0 or more epochs (got \(warmup))") }
        if let preset, TrainPreset.named(preset) == nil { throw ValidationError("unknown preset '\(preset)'; choose one of: \(TrainPreset.names.joined(separator: ", "))") }
        if let stopAtAcc, !(stopAtAcc > 0 && stopAtAcc <= 100) { throw ValidationError("--stop-at-acc must be a percentage in (0, 100] (got \(stopAtAcc))") }
        if let epochs, epochs <= 0 { throw ValidationError("--epochs must be a positive number (got \(epochs))") }
        if let batchSize, batchSize <= 0 { throw ValidationError("--batch-size must be a positive number (got \(batchSize))") }
        if let lr, !(lr.isFinite && Trainer.lrRange.contains(lr)) { throw ValidationError("--lr \(formatLR(lr)) refused: \(Trainer.lrRangeMessage)") }
        if let momentum, !(momentum >= 0 && momentum < 1) { throw ValidationError("--momentum must be in [0, 1) (got \(momentum))") }
        if let weightDecay, !(weightDecay >= 0 && weightDecay.isFinite) { throw ValidationError("--weight-decay must be 0 or more (got \(weightDecay))") }
        if let threads, !(threads > 0 && threads <= 256) { throw ValidationError("--threads must be between 1 and 256 (got \(threads))") }
        if let trainLimit, trainLimit <= 0 { throw ValidationError("--train-limit must be a positive number (got \(trainLimit))") }
        if let valSize, valSize < 0 { throw ValidationError("--val-size must be 0 or more (got \(valSize))") }
        if let evalEvery, evalEvery < 0 { throw ValidationError("--eval-every must be 0 or more (got \(evalEvery))") }
        if let logEvery, logEvery <= 0 { throw ValidationError("--log-every must be a positive number (got \(logEvery))") }
        if let saveEvery, saveEvery < 0 { throw ValidationError("--save-every must be 0 or more (got \(saveEvery))") }
        guard resume == nil || weights == nil else { throw ValidationError("--resume and --weights exclude each other") }
        if let augment { do { _ = try Augmentation.parse(augment) } catch { throw ValidationError("\(error)") } }
        if let pad, !(0...64).contains(pad) { throw ValidationError("--pad must be between 0 and 64 (got \(pad))") }
        for (name, v) in [("--mean", mean), ("--std", std)] {
            if let v, parseFloats(v) == nil { throw ValidationError("\(name) \(v): give numbers separated by commas, e.g. 0.5,0.5,0.5") }
        }
    }

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    func makeConfig() -> TrainConfig {
        var c = TrainConfig.defaults(for: model)
        c.dataset = DataSets.kind(dataset: dataset, directory: data)
        preset.flatMap(TrainPreset.named)?.apply(to: &c)
        if let lr { c.lr = lr }
        if let batchSize { c.batchSize = batchSize }
        if let optimizer { c.optimizer = optimizer }
        if let schedule, schedule != c.schedule { c.schedule = schedule; c.milestones = nil; c.gamma = nil }
        if let milestones { c.schedule = "step"; c.milestones = try! LRSchedule.parseMilestones(milestones) }
        if c.schedule == "step" { c.gamma = gamma ?? c.gamma ?? 0.1 }
        if let warmup { c.warmup = warmup }
        if let valSize { c.valSize = valSize }
        if let trainLimit { c.trainLimit = trainLimit }
        if let momentum { c.momentum = momentum }
        if let weightDecay { c.weightDecay = weightDecay }
        c.residual = !noResidual; c.stopAtAccuracy = stopAtAcc
        c.threads = threadCount; c.seed = seed
        if let imageSize { c.imageSize = imageSize }
        c.mean = mean.flatMap(parseFloats); c.std = std.flatMap(parseFloats)
        c.augment = augment.map { try! Augmentation.parse($0) } ?? c.augment ?? (["cifar10", "cifar100"].contains(c.datasetName) ? Augmentation.names : [])
        c.pad = pad ?? 4
        applySchedulingOptions(to: &c)
        return c
    }

    /// The options a resumed run continues with: the checkpoint's, except where the machine differs.
    func resumedConfig(_ file: SafetensorsFile) -> TrainConfig {
        let path = file.path
        guard let json = file.metadata["config"], var c = try? JSONDecoder().decode(TrainConfig.self, from: Data(json.utf8)) else {
            fail("\(path): holds no run options (not written by nntop's trainer?); use --weights to start from its weights")
        }
        guard c.model == model else { fail("\(path): a checkpoint of \(c.model), not \(model)") }
        // What the data is and how it is fed belong to the run: a resumed run keeps them.
        if let dataset, dataset != c.datasetName { fail("\(path): a run on \(c.datasetName), not \(dataset); a resumed run keeps its data") }
        if imageSize != nil || mean != nil || std != nil || augment != nil || pad != nil {
            fail("\(path): --image-size, --mean, --std, --augment and --pad are the run's own: a resumed run keeps the checkpoint's")
        }
        // The schedule too: a resumed run continues it exactly (an LR change by hand: nntop lr RUN, or the keys).
        if schedule != nil || milestones != nil || gamma != nil || warmup != nil {
            fail("\(path): --schedule, --milestones, --gamma and --warmup are the run's own: a resumed run continues the checkpoint's schedule")
        }
        c.threads = threadCount
        applySchedulingOptions(to: &c)
        return c
    }

    /// The options that say how long and how often, not what is trained: given ones also apply to
    /// a resumed run (e.g. more epochs, or no more step checkpoints).
    func applySchedulingOptions(to c: inout TrainConfig) {
        if let epochs { c.epochs = epochs }
        if let evalEvery { c.evalEvery = evalEvery }
        if let saveEvery { c.saveEvery = saveEvery }
        if let logEvery { c.logEvery = logEvery }
    }

    func run() throws {
        _ = processStart   // globals start lazily: pin the start time now
        // A file-size limit (ulimit -f) then fails a write like a full disk does, instead of killing the run.
        signal(SIGXFSZ, SIG_IGN)
        if !headless && !TrainingProcess.isTrainingProcess && Dashboard.canRun() {
            // The dashboard: training goes on in a process of its own, this one is its first dashboard.
            // Every check is the training process's: its refusals come back here as its messages.
            let compared = RunDisplay.load(compare)
            let (pid, runDir) = TrainingProcess.launch()
            let client: ControlClient
            do { client = try ControlClient(runDir: runDir) } catch { kill(pid, SIGTERM); fail("\(error)") }
            let name = (runDir as NSString).lastPathComponent
            AttachedDashboard.run(client, shownDir: runDir, options: display.options, overlays: compared.map(RunDisplay.overlay),
                                  overlayGradients: compared.map(\.gradients.last), runName: compared.isEmpty ? "" : "\(name) (this run)", trainingProcess: pid)
        }
        // The checkpoint to resume is read once, and refused before anything else is done.
        let resumeFile = resume.map { path -> SafetensorsFile in
            do { return try SafetensorsFile(path: path) } catch { fail("\(error)") }
        }
        var config = resumeFile.map(resumedConfig) ?? makeConfig()
        // Earlier runs to compare with: refused (one line, the path) before loading data or the terminal.
        let compared = RunDisplay.load(compare)
        let splits = loadData(config)
        // The normalization decided (given, fixed or computed once from the training split) is the
        // run's: config.json and every checkpoint record it, and a resumed run reads it back.
        config.mean = splits.spec.mean; config.std = splits.spec.std
        let trainer: Trainer
        do { trainer = try Trainer(config: config, data: splits) } catch { fail("\(error)") }
        if noResidual && trainer.network.residual == nil {
            fail("--no-residual: \(config.model) has no residual connections to turn off (\(residualModels) have)")
        }
        do {
            if let resumeFile { try trainer.resume(from: resumeFile) }
            if let weights { try trainer.loadWeights(from: weights) }
        } catch { fail("\(error)") }
        let firstStep = trainer.latest().step
        if let resume { refuseFinished(trainer.latest(), resume) }
        // The folder the checkpoint was written in: a resumed run goes on writing there.
        let resumeDir = resume.map { (($0 as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent }
        let runDir: String
        if let given = self.runDir ?? resumeDir {
            runDir = given
            checkRunFolder(runDir)
        } else {
            runDir = newRunFolder("runs", name: runName(config))
        }
        // Held until the process ends: a second run into this folder is refused while this one lives.
        let runLock: RunLock
        do { runLock = try RunLock(directory: runDir) } catch { fail("\(error); wait for it to end, or pass another --run-dir") }
        defer { withExtendedLifetime(runLock) {} }
        refuseOtherRunsLog(runDir, resumeDir: resumeDir)
        // A resumed run's dashboard shows its earlier sessions too: the log up to the checkpoint's step.
        let earlier = resume == nil ? nil : (try? RunHistory(directory: runDir))?.through(step: firstStep)
        trainer.checkpointDirectory = runDir + "/checkpoints"
        let leftovers = AtomicFile.removeLeftovers(in: runDir + "/checkpoints")
        if !leftovers.isEmpty {
            FileHandle.standardError.write(Data("nntop: removed \(leftovers.count) half-written checkpoint file(s) of a killed run: \(leftovers.joined(separator: ", "))\n".utf8))
        }
        let runLog = RunLog(directory: runDir, config: config, stepsPerEpoch: trainer.latest().stepsPerEpoch)
        let logError = runLog.error
        if let e = logError { FileHandle.standardError.write(Data("nntop: not logging metrics: \(e)\n".utf8)) }
        // The training process of a dashboard run: trains as a headless run does, with nobody reading
        // its output once the dashboard is up, and a diverged run waits for the user as a dashboard's does.
        let served = TrainingProcess.isTrainingProcess
        if !compared.isEmpty && !served {
            FileHandle.standardError.write(Data("nntop: --compare draws on the dashboard only; ignored in headless mode\n".utf8))
        }
        let logger = HeadlessLogger(config: config)
        logger.firstStep = firstStep
        logger.previousSeconds = runLog.previousSeconds
        logger.lastCheckpoint = runDir + "/checkpoints/last.safetensors"
        if (resume != nil || weights != nil) && !served { print(trainer.latest().message) }
        trainer.onEvent = served ? { runLog.handle($0) } : { logger.handle($0); runLog.handle($0) }
        trainer.pauseOnDivergence = served
        let signals = StopOnSignals(trainer)
        // Every run serves its control socket: nntop attach, ls, stop, pause, lr and snap reach it there.
        let control: ControlServer?
        do {
            let server = try ControlServer(
                runDir: runDir, trainer: trainer, validationCount: trainer.data.validation.count,
                testCount: trainer.data.test.count, previousSeconds: runLog.previousSeconds, firstStep: firstStep,
                snapshot: { earlier.map { trainer.latest().continuing($0) } ?? trainer.latest() })
            server.start()
            control = server
        } catch {
            if served { fail("cannot serve the dashboard: \(error)") }
            FileHandle.standardError.write(Data("nntop: no control socket (attach, stop, pause, lr, snap cannot reach this run): \(error)\n".utf8))
            control = nil
        }
        if served { TrainingProcess.announceReady(runDir: runDir) }
        trainer.start()
        trainer.wait()
        // The attached dashboards get the last update (the final test, the end state) before the socket goes.
        control?.stop(flush: 2)
        if let e = runLog.error, logError == nil { FileHandle.standardError.write(Data("nntop: metrics log stopped: \(e)\n".utf8)) }
        if let code = signals.exitCode { Foundation.exit(code) }
        if trainer.latest().state == .diverged { throw ExitCode(3) }
    }

    /// Refuses, before training, a run folder that would lose or mix up work: a file, a folder that
    /// holds something other than an nntop run, one that cannot be written.
    func checkRunFolder(_ dir: String) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { fail("run folder \(dir) is a file; pass another --run-dir") }
            let contents = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
            let runFiles: Set<String> = ["config.json", "metrics.jsonl", "checkpoints", RunLock.fileName]
            if !contents.isEmpty && !contents.contains(where: runFiles.contains) {
                fail("\(dir) exists and is not an nntop run folder (no config.json, metrics.jsonl or checkpoints); pass another --run-dir")
            }
            guard fm.isWritableFile(atPath: dir) else { fail("run folder \(dir) is not writable; pass another --run-dir") }
        } else {
            let e = makeDirectories(dir)
            if e != 0 { failCreating(dir, errno: e) }
        }
    }

    /// A new folder `parent/name`, or `name-2`, `name-3`… when that one exists (two runs started in
    /// the same second): made with mkdir(2), which fails on an existing folder, so no two runs share one.
    func newRunFolder(_ parent: String, name: String) -> String {
        let e = makeDirectories(parent)
        if e != 0 { failCreating(parent + "/" + name, errno: e) }
        for i in 1... {
            let dir = (parent as NSString).appendingPathComponent(i == 1 ? name : "\(name)-\(i)")
            if mkdir(dir, 0o755) == 0 { return dir }
            if errno != EEXIST { failCreating(dir, errno: errno) }
        }
        fatalError("unreachable")
    }

    /// Refuses a folder whose log is another run's: a new run (no --resume), or one resumed from a
    /// checkpoint of a different folder, never appends to it.
    func refuseOtherRunsLog(_ dir: String, resumeDir: String?) {
        let metrics = (dir as NSString).appendingPathComponent("metrics.jsonl")
        guard let size = (try? FileManager.default.attributesOfItem(atPath: metrics)[.size] as? Int) ?? nil, size > 0 else { return }
        if let resumeDir, realPath(resumeDir) == realPath(dir) { return }
        let state = RunSummary(directory: dir).map { " (\($0.state), step \($0.lastStep))" } ?? ""
        let last = (dir as NSString).appendingPathComponent("checkpoints/last.safetensors")
        let hint = FileManager.default.fileExists(atPath: last) ? "--resume \(last) continues it, or pass" : "pass"
        fail("\(dir) already holds another run\(state): \(hint) another --run-dir for a new run")
    }

    /// A resumed run that has already trained all its epochs: nothing to do unless --epochs gives more.
    func refuseFinished(_ s: TrainingSnapshot, _ checkpoint: String) {
        guard s.totalSteps > 0, s.step >= s.totalSteps else { return }
        let done = s.stepsPerEpoch > 0 ? s.step / s.stepsPerEpoch : s.epochs
        let given = epochs.map { " (--epochs \($0) adds none)" } ?? ""
        fail("\(checkpoint): the run has finished its \(done) epochs (step \(s.step))\(given); to train it further pass --epochs N with N > \(done)")
    }

    /// One line saying why a run folder cannot be made, naming the folder that is not writable.
    func failCreating(_ dir: String, errno e: Int32) -> Never {
        var parent = (dir as NSString).deletingLastPathComponent
        while !parent.isEmpty && !FileManager.default.fileExists(atPath: parent) { parent = (parent as NSString).deletingLastPathComponent }
        let shown = parent.isEmpty ? FileManager.default.currentDirectoryPath : parent
        let why = String(cString: strerror(e))
        if [EACCES, EPERM, EROFS, ENOENT].contains(e) {
            fail("cannot create run folder \(dir): \(shown) is not writable (\(why)); pass --run-dir DIR to write the run elsewhere")
        }
        fail("cannot create run folder \(dir): \(why); pass another --run-dir")
    }

    func loadData(_ config: TrainConfig) -> DataSplits {
        do {
            // Decoding that takes more than a second says how far it is, a line per 10 % on stderr (a
            // dashboard run's training process passes them on until its dashboard is up).
            var shown = 0
            let loaded = try DataSets.load(dataset: config.datasetName, directory: data, imageSize: config.imageSize) { f in
                let tenths = Int(f * 10)
                guard tenths > shown else { return }
                shown = tenths
                FileHandle.standardError.write(Data("nntop: decoding \(data ?? "the data"): \(tenths * 10)%\n".utf8))
            }
            // What --data held, in one line on stderr (apart from the progress lines).
            if data != nil, !loaded.description.isEmpty, headless || !Dashboard.canRun() { FileHandle.standardError.write(Data((loaded.description + "\n").utf8)) }
            return try DataSplits(train: loaded.train, test: loaded.test, validationSize: config.valSize,
                                  trainLimit: config.trainLimit, dataset: config.datasetName, mean: config.mean, std: config.std)
        } catch { fail("\(error)") }
    }
}

func runName(_ c: TrainConfig) -> String {
    let f = DateFormatter()
    f.dateFormat = "yyyyMMdd-HHmmss"
    return "\(f.string(from: processStart))-\(c.model)\(c.residual || !c.hasResidualSwitch ? "" : "-nores")-\(c.datasetName)"
}

/// Headless runs: SIGINT or SIGTERM stops the trainer at the next step boundary (it writes
/// last.safetensors and the final line), then the process exits 130 / 143; a second one exits at
/// once. SIGHUP is ignored: a headless run outlives the SSH session that started it. SIGPIPE is
/// ignored so a closed output pipe cannot kill a run mid-checkpoint.
final class StopOnSignals {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var code: Int32?
    var exitCode: Int32? { lock.lock(); defer { lock.unlock() }; return code }

    init(_ trainer: Trainer) {
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        for (sig, exitCode) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.lock.lock()
                let second = self.code != nil
                self.code = exitCode
                self.lock.unlock()
                if second { Foundation.exit(exitCode) }
                FileHandle.standardError.write(Data("nntop: stopping at the next step (again to quit at once)\n".utf8))
                trainer.send(.stop)
                trainer.send(.resume)
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// The models whose shortcuts can be switched off, for messages.
var residualModels: String { ModelZoo.specs.filter(\.hasResidualSwitch).map(\.name).joined(separator: ", ") }

/// "0.05 for lenet5, 0.1 for resnet18", or one value when every model shares it: a default as
/// `TrainConfig.defaults(for:)` sets it, for the help text.
func defaultsHelp<T: CustomStringConvertible & Equatable>(_ key: KeyPath<TrainConfig, T>) -> String {
    let values = ModelZoo.names.map { TrainConfig.defaults(for: $0)[keyPath: key] }
    if Set(values.map(\.description)).count == 1 { return values[0].description }
    return zip(values, ModelZoo.names).map { "\($0.0) for \($0.1)" }.joined(separator: ", ")
}

/// mkdir -p: 0, or the errno of the first mkdir(2) that failed.
func makeDirectories(_ path: String) -> Int32 {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) { return isDir.boolValue ? 0 : ENOTDIR }
    let parent = (path as NSString).deletingLastPathComponent
    if !parent.isEmpty && parent != path {
        let e = makeDirectories(parent)
        if e != 0 { return e }
    }
    if mkdir(path, 0o755) == 0 || errno == EEXIST { return 0 }
    return errno
}

func realPath(_ path: String) -> String {
    guard let p = realpath(path, nil) else { return path }
    defer { free(p) }
    return String(cString: p)
}
