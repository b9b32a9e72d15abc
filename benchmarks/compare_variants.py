"""The variants `benchmarks.compare` can time, by name (a module without flags: tests and other
scripts read the names without defining the script's flags)."""

ON_TAPECRAFT_MODEL = "_on_tapecraft_model"
ON_USER_MODEL = "_on_user_model"
ON_TRAIN_INPUT = "_on_train_input"
VARIANTS = ("tapecraft", "keras_fit_default", "keras_fit_loop", "keras_fit_xla", "keras_fit_xla_loop",
            "keras_fit_loop" + ON_TAPECRAFT_MODEL, "keras_fit_xla_loop" + ON_TAPECRAFT_MODEL, "eager")
ALL_VARIANTS = VARIANTS + ("tapecraft" + ON_USER_MODEL, "tapecraft_run", "tapecraft_run" + ON_USER_MODEL,
                           "keras_fit_loop" + ON_TRAIN_INPUT, "keras_fit_xla_loop" + ON_TRAIN_INPUT)
TAPECRAFT_VARIANTS = ("tapecraft", "tapecraft" + ON_USER_MODEL, "tapecraft_run", "tapecraft_run" + ON_USER_MODEL)
