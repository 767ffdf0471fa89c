function __nntop_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __nntop_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __nntop_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __nntop_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __nntop_parse_tokens -S
    set -l unparsed_tokens (__nntop_tokens -pc)
    switch $unparsed_tokens[1]
    case 'nntop'
        __nntop_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'train'
            __nntop_parse_subcommand 1 'epochs=' 'batch-size=' 'lr=' 'optimizer=' 'momentum=' 'weight-decay=' 'schedule=' 'milestones=' 'gamma=' 'warmup=' 'no-residual' 'train-limit=' 'val-size=' 'eval-every=' 'log-every=' 'threads=' 'seed=' 'data=' 'dataset=' 'image-size=' 'mean=' 'std=' 'augment=' 'pad=' 'preset=' 'stop-at-acc=' 'run-dir=' 'save-every=' 'resume=' 'weights=' 'compare=+' 'headless' 'ascii' 'no-color' 'version' 'h/help'
        case 'bench'
            __nntop_parse_subcommand 1 'batch-size=' 'threads=' 'steps=' 'no-residual' 'input=' 'classes=' 'no-peak' 'grad-cost' 'version' 'h/help'
        case 'eval'
            __nntop_parse_subcommand 1 'weights=' 'data=' 'dataset=' 'no-residual' 'batch-size=' 'threads=' 'version' 'h/help'
        case 'predict'
            __nntop_parse_subcommand -r 2 'weights=' 'top=' 'json' 'threads=' 'version' 'h/help'
        case 'summary'
            __nntop_parse_subcommand 1 'no-residual' 'input=' 'classes=' 'version' 'h/help'
        case 'export'
            __nntop_parse_subcommand 2 'force' 'version' 'h/help'
        case 'runs'
            __nntop_parse_subcommand 1 'version' 'h/help'
        case 'view'
            __nntop_parse_subcommand -r 1 'text' 'ascii' 'no-color' 'version' 'h/help'
        case 'data'
            __nntop_parse_subcommand 1 'dataset=' 'image-size=' 'version' 'h/help'
        case 'attach'
            __nntop_parse_subcommand 1 'ascii' 'no-color' 'version' 'h/help'
        case 'stop'
            __nntop_parse_subcommand 1 'timeout=' 'version' 'h/help'
        case 'pause'
            __nntop_parse_subcommand 1 'timeout=' 'version' 'h/help'
        case 'resume'
            __nntop_parse_subcommand 1 'timeout=' 'version' 'h/help'
        case 'lr'
            __nntop_parse_subcommand 2 'timeout=' 'version' 'h/help'
        case 'snap'
            __nntop_parse_subcommand 1 'timeout=' 'version' 'h/help'
        case 'help'
            __nntop_parse_subcommand -r 1 'version'
        end
    end
end

function __nntop_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __nntop_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __nntop_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __nntop_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__nntop_tokens -p)
    if test -z "$(__nntop_tokens -t)"
        set -l index (count (__nntop_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'nntop' -f
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'train' -d 'Train a model (the default command: `nntop resnet18` is `nntop train resnet18`).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'bench' -d 'Measure training and inference throughput (samples/s) and per-layer times on random input.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'eval' -d 'Evaluate a checkpoint on a data set\'s test images: per-class accuracy, confusion matrix, loss, top-5.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'predict' -d 'Classify image files with a checkpoint: the top classes and their probabilities, one block per image.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'summary' -d 'Every layer\'s output shape, parameters and multiply-accumulates, then the totals (like torchsummary + torchstat).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'export' -d 'Write a weights-only copy of a checkpoint (no optimizer state), as best.safetensors is.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'runs' -d 'List the run folders in DIR, newest first: model, data set, residual, epochs, best validation and test accuracy, wall time, state.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'view' -d 'Show runs on the dashboard, without training: nntop run folders and TensorBoard logs (PyTorch, TensorFlow/Keras, Lightning), live.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'data' -d 'Read a data folder as training would and say what it holds, in one line, with the time it took.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'attach' -d 'Open the dashboard on a running training: its whole history, then live; every key works.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'stop' -d 'Stop a running training at its next step: it writes last.safetensors and its end line, as q does.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'pause' -d 'Pause a running training (nntop resume goes on).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'resume' -d 'Resume a paused training (a diverged one goes back to its last good weights, as p does).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'lr' -d 'Set a running training\'s learning rate from its next step (as l does).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'snap' -d 'Save a checkpoint of a running training now (as s does); prints the file.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" epochs' -l 'epochs' -d 'Passes over the training set (default: 5 for lenet5, 1 for resnet18).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" batch-size' -l 'batch-size' -d 'Images per step (default: 64).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" lr' -l 'lr' -d 'The base learning rate, which the LR schedule scales (a learning rate must be between 1e-08 and 1000) (default: 0.05).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" optimizer' -l 'optimizer' -d 'sgd, momentum, nesterov or adam (default: momentum).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" momentum' -l 'momentum' -d 'Momentum for momentum and nesterov (default: 0.9).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" weight-decay' -l 'weight-decay' -d 'L2 weight decay (default: 0).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" schedule' -l 'schedule' -d 'LR schedule: cosine, step or constant (default: cosine; step when --milestones is given).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" milestones' -l 'milestones' -d '--schedule step\'s milestones, in epochs (fractional allowed), increasing: the first step after each uses the LR times --gamma.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" gamma' -l 'gamma' -d '--schedule step\'s factor at each milestone, in (0, 1] (default: 0.1).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" warmup' -l 'warmup' -d 'Linear warmup over the first N epochs (fractional allowed), for any schedule: the first step uses the LR over the warmup\'s step count, rising to the full LR at its end (default: 0, none).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" no-residual' -l 'no-residual' -d 'A ResNet without its shortcut connections (the plain network).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" train-limit' -l 'train-limit' -d 'Train on the first N training images only.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" val-size' -l 'val-size' -d 'Training images held out for validation, the last N (default: 5000).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" eval-every' -l 'eval-every' -d 'Validate every N steps as well as at each epoch\'s end (default 0: epoch ends only).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" log-every' -l 'log-every' -d 'Log a metrics line (and print a progress line, headless) every N steps (default: 100 for lenet5, 20 for resnet18, 20 for alexnet, 20 for resnet34, 20 for resnet50, 20 for resnet101, 20 for resnet152, 20 for resnet20-cifar, 20 for resnet32-cifar, 20 for resnet44-cifar, 20 for resnet56-cifar, 20 for resnet110-cifar, 20 for vgg11, 20 for vgg11-bn, 20 for vgg13, 20 for vgg13-bn, 20 for vgg16, 20 for vgg16-bn, 20 for vgg19, 20 for vgg19-bn, 20 for googlenet).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" threads' -l 'threads' -d 'Worker threads for the kernels (default: all cores, 2 here).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" seed' -l 'seed' -d 'Seed for initialisation and shuffling.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" data' -l 'data' -d 'The data folder: MNIST or Fashion-MNIST idx files (raw or .gz), CIFAR-10/100 binary files, or class folders of images (default: the bundled assets/mnist).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" dataset' -l 'dataset' -d 'What --data holds: mnist, fashion-mnist, cifar10, cifar100, folder (default: mnist).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" image-size' -l 'image-size' -d 'Resize every image to N×N (default: folders 32, other data sets their stored size; MNIST and Fashion-MNIST\'s 28×28 digits are centred in a 32×32 input).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" mean' -l 'mean' -d 'Per-channel mean of pixels scaled to [0,1], comma-separated (one value: every channel).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" std' -l 'std' -d 'Per-channel standard deviation, as --mean (MNIST 0.3081, CIFAR-10 0.2023,0.1994,0.2010).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" augment' -l 'augment' -d 'Training-split augmentation: crop, flip, crop,flip or none (default: crop,flip for CIFAR, none otherwise).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" pad' -l 'pad' -d 'Zero padding, in pixels on each side, before --augment crop\'s random crop (default: 4).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" preset' -l 'preset' -d 'Option preset, for any model: textbook, cifar-momentum, folder-adam, two-class, he2016; options given too override it.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" stop-at-acc' -l 'stop-at-acc' -d 'End the run once test accuracy (checked at each evaluation) reaches this percentage: time-to-accuracy in one command.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" run-dir' -l 'run-dir' -d 'Folder for this run\'s checkpoints (default: runs/<date>-<time>-<model>[-nores]-<dataset>).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" save-every' -l 'save-every' -d 'Also write checkpoints/step-N.safetensors every N steps (default 0: never).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" resume' -l 'resume' -d 'Continue the run this checkpoint was saved from (weights, optimizer, step, data order, options; --epochs, --eval-every, --save-every and --log-every given here override the saved ones).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" weights' -l 'weights' -d 'Start from this checkpoint\'s weights (nntop\'s or PyTorch\'s state_dict as safetensors).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train"' -l 'compare' -d 'Draw an earlier run\'s curves (its run folder) dimmed behind this run\'s, on the same axes; repeat for more runs.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" headless' -l 'headless' -d 'Print progress lines instead of the dashboard (automatic when stdout is not a terminal).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" ascii' -l 'ascii' -d 'Draw the dashboard with ASCII characters only (automatic in a non-UTF-8 locale).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" no-color' -l 'no-color' -d 'No colours in the dashboard (also when NO_COLOR is set).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop train" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" batch-size' -l 'batch-size' -d 'Images per training step.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" threads' -l 'threads' -d 'Worker threads for the kernels (default: all cores).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" steps' -l 'steps' -d 'Timed training steps (inference runs a third as many batches of 256).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" no-residual' -l 'no-residual' -d 'A ResNet without its shortcut connections.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" input' -l 'input' -d 'One sample\'s shape, e.g. 3,32,32 for CIFAR (default: 1,32,32).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" classes' -l 'classes' -d 'Classes of the model\'s head (default: 10).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" no-peak' -l 'no-peak' -d 'Skip measuring the FMA peak.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" grad-cost' -l 'grad-cost' -d 'Time what the gradient-flow figures add to a training step (measured and plain steps interleaved).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop bench" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop eval" weights' -l 'weights' -d 'The checkpoint (.safetensors) to evaluate.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop eval" data' -l 'data' -d 'The data folder (default: the bundled assets/mnist for MNIST checkpoints).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop eval" dataset' -l 'dataset' -d 'What --data holds: mnist, fashion-mnist, cifar10, cifar100, folder (default: the data set the checkpoint was trained on).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop eval" no-residual' -l 'no-residual' -d 'A ResNet without its shortcuts, whatever the checkpoint says.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop eval" batch-size' -l 'batch-size' -d 'Images per forward pass.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop eval" threads' -l 'threads' -d 'Worker threads for the kernels (default: all cores).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop eval" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop eval" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop predict" weights' -l 'weights' -d 'The checkpoint (.safetensors).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop predict" top' -l 'top' -d 'How many classes to show per image (default: 5, or every class when there are fewer).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop predict" json' -l 'json' -d 'One JSON object per image and line: {"image":…,"top":[{"class":i,"name":…,"probability":p},…]}.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop predict" threads' -l 'threads' -d 'Worker threads for the kernels (default: all cores).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop predict" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop predict" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop summary" no-residual' -l 'no-residual' -d 'A ResNet without its shortcut connections: the projection shortcuts show as unused.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop summary" input' -l 'input' -d 'The input shape C,H,W of one sample (default: the model\'s natural input).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop summary" classes' -l 'classes' -d 'Output classes of the last layer.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop summary" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop summary" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop export" force' -l 'force' -d 'Replace OUT if it exists.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop export" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop export" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop runs" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop runs" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop view" text' -l 'text' -d 'Print the runs as text instead of the dashboard (automatic when stdout is not a terminal).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop view" ascii' -l 'ascii' -d 'Draw the dashboard with ASCII characters only (automatic in a non-UTF-8 locale).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop view" no-color' -l 'no-color' -d 'No colours in the dashboard (also when NO_COLOR is set).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop view" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop view" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop data" dataset' -l 'dataset' -d 'What it holds when detection could be wrong: mnist, fashion-mnist, cifar10, cifar100, folder.' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop data" image-size' -l 'image-size' -d 'Resize images to N×N (default: image folders 32, other sets their own size).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop data" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop data" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop attach" -eq 1' -fa '(__nntop_complete_directories)'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop attach" ascii' -l 'ascii' -d 'Draw the dashboard with ASCII characters only (automatic in a non-UTF-8 locale).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop attach" no-color' -l 'no-color' -d 'No colours in the dashboard (also when NO_COLOR is set).'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop attach" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop attach" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop stop" -eq 1' -fa '(__nntop_complete_directories)'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop stop" timeout' -l 'timeout' -d 'Seconds to wait for the run to apply the command (an evaluation in progress finishes first).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop stop" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop stop" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop pause" -eq 1' -fa '(__nntop_complete_directories)'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop pause" timeout' -l 'timeout' -d 'Seconds to wait for the run to apply the command (an evaluation in progress finishes first).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop pause" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop pause" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop resume" -eq 1' -fa '(__nntop_complete_directories)'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop resume" timeout' -l 'timeout' -d 'Seconds to wait for the run to apply the command (an evaluation in progress finishes first).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop resume" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop resume" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop lr" -eq 1' -fa '(__nntop_complete_directories)'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop lr" timeout' -l 'timeout' -d 'Seconds to wait for the run to apply the command (an evaluation in progress finishes first).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop lr" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop lr" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_positional "nntop snap" -eq 1' -fa '(__nntop_complete_directories)'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop snap" timeout' -l 'timeout' -d 'Seconds to wait for the run to apply the command (an evaluation in progress finishes first).' -rfka ''
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop snap" version' -l 'version' -d 'Show the version.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop snap" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'nntop' -n '__nntop_should_offer_completions_for_flags_or_options "nntop help" version' -l 'version' -d 'Show the version.'
