#!/bin/sh
# Train the shipped models, from the repository root:
#   sudo apt-get install hydrogen-data hydrogen-drumkits avldrums.lv2-soundfont fluid-soundfont-gm lmms-common
#   nohup sh training/ship_models.sh > runs/ship.log 2>&1 &
# drums.npz: one WaveNet conditioned on the voice (model format 2), all ten voices of the drum
# machine, 44,100 Hz, from every Debian drum source, then its unconditional voice 'any' (below).
# hihat.npz: the hi-hat alone, the same network and recipe with leaky integration b = 0.995 (model
# format 3), 1,500 steps; shipped beside drums.npz, it plays the hi-hat (a file of a voice's name wins
# over drums.npz's voice): 0.59 and 0.98 short on seeds 0 and 1 against drums.npz's hi-hat's 7.83 and
# the recipe's seed 1's 7.14; integrating the hats in the shared network cost the kick and the low tom
# on both seeds (docs/evaluation.md, "A hi-hat model of its own"); since session 44 its training clips
# high-passed at 60 Hz (--highpass-hz): 0 short on seeds 0 and 1, every criterion passed, against
# those two's 0.59 and 0.98 (docs/evaluation.md, "The hi-hat high-passed"). openhat.npz: the open
# hat alone, the same way (4.02 and 4.17 short on seeds 0 and 1 against drums.npz's open hat's 9.87
# and the recipe's seed 1's 10.06; docs/evaluation.md, "An open hat model of its own"); high-passed
# as the hi-hat, 0.53 and 4.54 short on seeds 0 and 1 (seed 2, session 45: 0.89): not adopted
# (docs/evaluation.md, "The open hat high-passed"); trained 3,000 steps since session 47 and
# high-passed so since session 49: 0.60 and 0.02 short on seeds 0 and 1 against 3.58 and 4.06 without
# the high-pass (docs/evaluation.md, "The open hat high-passed, trained twice as long").
# clap.npz: the same network and recipe on the claps alone (with LMMS's four, 14 clips, 3,000 steps),
# shipped from 2026-12-03 (an earlier recipe) until drums.npz's own clap, steered away from 'any', fell
# 6.1 short against its 10.2, and again since 2026-12-05 with today's recipe: 14.38 and 14.15 short on
# seeds 0 and 1, judged with LMMS's claps among the sources, against drums.npz's clap's 18.84 and the
# recipe's seed 1's 18.62 (docs/evaluation.md, "The clap of its own again"); since 2026-12-05 (session
# 40) with leaky integration b = 0.98 too: 10.30 and 11.59 short against those two's 14.38 and 14.15
# (docs/evaluation.md, "The clap with leaky integration"); since session 43 without the integration,
# its clips high-passed at 60 Hz (--highpass-hz: the training claps' DC and wander are not learned)
# and a low shelf at 200 Hz, 30 dB: 3.59 and 4.73 short on seeds 0 and 1 against those two's 10.30 and
# 11.59 (docs/evaluation.md, "The clap high-passed"); since session 54 the least short of training
# seeds 0, 1 and 2 (CHOOSE, below). crash.npz: the crashes alone at a = 0.85
# with leaky integration b = 0.99, 1,500 steps: 2.39 and 2.04 short on seeds 0 and 1 against
# drums.npz's crash's 6.68 and the recipe's seed 1's 7.01 (docs/evaluation.md, "A crash model of its
# own"); since session 50 trained 3,000 steps with its clips high-passed at 60 Hz (two levers at once):
# 1.25 and 1.30 short on seeds 0 and 1 (docs/evaluation.md, "The crash high-passed, trained twice as
# long"). tom_mid.npz: the mid toms alone at a = 0.85 with a low shelf at 80 Hz, 20 dB (model format 4),
# 1,500 steps: 2.25 and 1.95 short on seeds 0 and 1 against drums.npz's mid tom's 3.05 and the
# recipe's seed 1's 2.68 (docs/evaluation.md, "A low shelf"); 3,000 steps since session 48: 1.43 and
# 1.17 (docs/evaluation.md, "The mid tom trained twice as long"). tom_low.npz: the low toms alone the same
# way with the shelf at 60 Hz, 1,500 steps: 4.47 and 4.70 short on seeds 0 and 1 against drums.npz's
# low tom's 7.28 and the recipe's seed 1's 5.02 (docs/evaluation.md, "A low shelf for the low tom").
# A high tom alone with the shelf at 80 Hz (0.07 and 0.04 short on seeds 0 and 1) shipped in session 42
# and was withdrawn in session 43: it is pitched under the mid tom (docs/evaluation.md, "The high tom
# withdrawn"); drums.npz plays the high tom. snare.npz: the snares alone with the shelf at
# 80 Hz, 1,500 steps: 0.08 and 0.00 short on seeds 0 and 1 against drums.npz's snare's 0.48 and the
# recipe's seed 1's 1.39 (docs/evaluation.md, "A low shelf for the snare"). kick.npz: the kicks alone,
# their training clips high-passed at 30 Hz (--highpass-hz, the drum machine's own high-pass for
# kicks), 1,500 steps: 3.27 and 1.09 short on seeds 0 and 1 against drums.npz's kick's 3.67 and the
# recipe's seed 1's 2.23 (docs/evaluation.md, "The kick high-passed"); since session 54 the least
# short of training seeds 0, 1 and 2 (CHOOSE, below). By default all nine are
# trained, in turn;
# MODELS="drums clap" trains two of them.
# MODELS=kick (or any other voice of the drum machine but the clap) trains that voice's clips alone
# with the same network and recipe (and a shipped model's own options: the kick's high-pass, ...),
# 1,500 steps (13-20 min of training): the one-voice lever runs of
# docs/evaluation.md ("The pre-emphasis coefficient, one lever alone", "Input drift"), e.g.
#   MODELS=kick VARIANT=pe0.7 TRAIN_ARGS="--preemphasis 0.7" sh training/ship_models.sh
# or another coefficient of the hats' leaky integration (docs/evaluation.md, "Leaky integration"):
#   MODELS=openhat VARIANT=int0.99 TRAIN_ARGS="--voice-integration openhat=0.99" sh training/ship_models.sh
# or a low shelf (model format 4; docs/evaluation.md, "A low shelf"):
#   MODELS=kick VARIANT=shelf40 TRAIN_ARGS="--shelf-hz 40" sh training/ship_models.sh
# The hats are pre-emphasised with a = 0 (--voice-preemphasis; every other voice 0.85): their clips are
# near white (lag-1 autocorrelation +0.05 and +0.38), and at 0.85 the de-emphasis, which multiplies DC
# by 12.3, raised the network's slow offset into rumble (docs/evaluation.md, "A pre-emphasis coefficient
# a voice"). The one-voice hat runs (MODELS=hihat, MODELS=openhat) keep it, with b = 0.995.
# In a quarter of the training windows the input, not the target, carries a slow random drift
# (--input-drift 0.01 --input-drift-share 0.25): the network learns not to carry on a wander of its own
# context, the rumble under kicks, snares and toms (docs/evaluation.md, "Input drift");
# TRAIN_ARGS="--input-drift 0" trains without it.
# Every layer is also told how far into the clip it is (--time-constants: five features exp(-t/tau),
# tau 2.5 ms to 0.64 s, refreshed every 64 samples): without them crashes never decayed, with them
# 69% did (docs/evaluation.md, "Time since the onset, one lever alone").
# The network models each clip divided by an envelope of its decay time (--decay-conditioning
# --envelope; docs/format.md, "Envelope") and learns nothing past a clip's last sample above the
# envelope's floor (--end-mask): of every recipe measured, the lowest total shortfall on two seeds
# (docs/evaluation.md, "Why envelope models' clips die early, and the end mask").
# No clip is held out for validation (--val-fraction 0): nothing here uses the validation loss (the
# weights are a mean of snapshots, the defaults are tuned on generated clips), and training on all 454
# clips judged lower on both seeds, total shortfall 24.6 and 27.1 against 27.2 and 38.0 with the split
# of 58 clips (docs/evaluation.md, "No validation split").
# Each model checkpoints into runs/MODEL-seed$SEED/ ($RUN: runs/drums-seed0/, runs/clap-seed0/; the
# fit of drums.npz's 'any' into runs/drums-seed0-any/) and writes runs/MODEL-seed$SEED.npz (OUT, with one model in MODELS, names another file). After a kill,
# rerun it with RESUME=--resume to continue from the last checkpoint (a finished run resumes at its
# final step and just re-exports). A run of seed 0 killed at step 1,173 and resumed so rebuilt the shipped
# drums.npz bit for bit, weights, tuned defaults and records (2026-12-04; `python tools/same_model.py A B`
# compares two model files; docs/evaluation.md, "Reproducing drums.npz"); each of the seven others too
# (2026-12-05/06, the snare and the hi-hat killed and resumed; docs/evaluation.md, "Reproducing the
# snare, the toms and the open hat, and the clap"). SEED=1 sh training/ship_models.sh trains the second seed of the recipe (of the kick and the clap, seeds 3-5: below).
# STEPS and SWA_FIRST, if set, apply to every model in MODELS.
# A lever measured against the recipe: VARIANT names it and TRAIN_ARGS adds its options to the
# trainer's, e.g. VARIANT=in2 TRAIN_ARGS="--input-noise 2" MODELS=drums sh training/ship_models.sh trains
# into runs/drums-in2-seed0/ and writes runs/drums-in2-seed0.npz (resume it with the same variables).
set -e
KITS=/usr/share/hydrogen/data/drumkits
SF2=/usr/share/sounds/sf2
# Kept out of training entirely: the evaluation's real clips come from these five kits, chosen from
# the real data alone by `python -m training.holdout` (the most representative set of whole kits).
HOLDOUT="Audiophob,ColomboAcousticDrumkit,Forzee Stereo Drumkit,Millo-Drums_v.1,Millo_MultiLayered2"
PY=${PYTHON:-python}
SEED=${SEED:-0}
# 10,000 steps: the shipped drums.npz is seed 0 of this recipe at 10,000 steps (5,383 s of training on
# this machine's two cores beside short jobs, 2026-12-04; the 'any' fit 311 s, the tune 56 min, the
# whole script about 2 h 35 min); longer runs are not measured on this recipe (the recipe before the
# envelope judged worse at 20,000 steps than at 10,000: docs/evaluation.md, "Epsilon sampling"). Its
# total shortfall is 57.45 (the model before it, without the drift, the hats' coefficient and --val-fraction 0,
# trained before the data fix of 2026-12-02: 71.44; docs/evaluation.md, "The ten-voice recipe with the
# hats at a = 0").
MODELS=${MODELS:-drums hihat openhat clap crash tom_mid tom_low snare kick}
case "$MODELS" in
  *" "*) if [ -n "$OUT" ]; then echo "ship_models.sh: OUT names one file: set MODELS to one model" >&2; exit 2; fi ;;
esac
for MODEL in $MODELS; do
TUNE_GRID=
WINDOW=
CHOOSE=
EQ=
case $MODEL in
  drums) DATA="--voices all --voice-preemphasis hihat=0,openhat=0"; MODEL_STEPS=${STEPS:-10000}; EQ=tom_high,ride ;;
  # 3,000 steps of 4 windows: each of the 14 claps drawn about 860 times (drums.npz's clips, 88).
  # high-passed at 60 Hz: the training claps' median share below 30 Hz -34.4 -> -51.2 dB, their
  # log-mel spectrum moved 0.69 dB; the shelf's code floor on them 0.23 dB (tools/code_floor.py)
  # tuned on temperatures up to 1.8 since session 48: it chose 1.3, the default grid's edge
  # (docs/evaluation.md, "The clap's quiet clips")
  # its averaging window chosen by generated clips since session 53 (WINDOW, below), its training
  # seed since session 54 (CHOOSE, below)
  clap) DATA="--voices clap --data /usr/share/lmms/samples/drums --highpass-hz 60 --shelf-hz 200 --shelf-db 30"; MODEL_STEPS=${STEPS:-3000}
    TUNE_GRID="--temperatures 0.8,0.9,1.0,1.1,1.2,1.3,1.4,1.5,1.6,1.7,1.8"; WINDOW=screen; CHOOSE=3; EQ=all ;;
  # high-passed at 60 Hz: the training hi-hats' median share below 30 Hz -48.0 -> -63.7 dB, their
  # log-mel spectrum moved 0.38 dB (the same on the open hats: seed 1 fell short, docs/evaluation.md)
  # tuned on temperatures 0.6-1.2 with a second judgement (--confirm 3) and given its output filter
  # since session 57, under the evaluation whose reject class holds noise shaped like each voice:
  # 6.65 short -> 3.25 (seed 0) and 6.97 -> 2.07 (seed 3) (docs/evaluation.md, "The hi-hat's
  # sampling settings and output filter under the new judge"); tried then and not adopted: 3,000 steps
  # (2.95 and 3.13 with its filter) and no integration, b = 0 (9.06: rumble); its training seed chosen
  # by generated clips since session 58 (CHOOSE, below): of seeds 0, 1 and 2 (5.37, 3.56, 5.90 on the
  # screen) seed 1, filtered 1.95 (seed 0 of clips) and 0.48 (seed 3) short against seed 0's 3.25 and
  # 2.07 (docs/evaluation.md, "The hi-hat's training seed chosen by its clips")
  hihat) DATA="--voices hihat --voice-preemphasis hihat=0 --voice-integration hihat=0.995 --highpass-hz 60"; MODEL_STEPS=${STEPS:-1500}
    TUNE_GRID="--temperatures 0.6,0.7,0.8,0.9,1.0,1.1,1.2 --confirm 3"; CHOOSE=3; EQ=all ;;
  # 3,000 steps since session 47 (each open hat drawn about 390 times; 1,500: 4.02 and 4.17 short);
  # high-passed at 60 Hz since session 49 (as the hi-hat): 0.60 and 0.02 short on seeds 0 and 1,
  # rumble passed, against 3.58 and 4.06 without it (at 1,500 steps it passed on no seed of three)
  openhat) DATA="--voices openhat --voice-preemphasis openhat=0 --voice-integration openhat=0.995 --highpass-hz 60"; MODEL_STEPS=${STEPS:-3000}; EQ=all ;;
  # the code's floor on the training crashes at b = 0.99: 2.1 dB of log-mel damage (tools/code_floor.py)
  # 3,000 steps and high-passed at 60 Hz since session 50 (as the open hat): 1.25 and 1.30 short on
  # seeds 0 and 1, rumble passed (-45.3 and -45.0 dB below 30 Hz), against 2.39 and 2.04
  # its averaging window chosen by generated clips since session 52 (WINDOW, below)
  crash) DATA="--voices crash --voice-integration crash=0.99 --highpass-hz 60"; MODEL_STEPS=${STEPS:-3000}; WINDOW=screen; EQ=all ;;
  # a low shelf at 80 Hz: the code's floor on the training mid toms 1.14 dB (1.03 without it)
  # 3,000 steps since session 48 (each mid tom drawn about 320 times; 1,500: 2.25 and 1.95 short)
  # its averaging window chosen by generated clips since session 52 (WINDOW, below)
  tom_mid) DATA="--voices tom_mid --shelf-hz 80"; MODEL_STEPS=${STEPS:-3000}; WINDOW=screen ;;
  # at 60 Hz, below the low toms' fundamentals (68-74 Hz): the code's floor on the training low toms
  # 0.79 dB (0.70 without it)
  # 3,000 steps since session 47 (each low tom drawn about 250 times; 1,500: 4.47 and 4.70 short)
  # its averaging window chosen by generated clips since session 52 (WINDOW, below)
  tom_low) DATA="--voices tom_low --shelf-hz 60"; MODEL_STEPS=${STEPS:-3000}; WINDOW=screen; EQ=all ;;
  # at 80 Hz: the code's floor on the 79 training snares 0.25 dB, as without it
  # its training seed chosen by generated clips since session 59 (CHOOSE, below): seeds 0, 1 and 2 all
  # pass the screen; the larger margin chose seed 1 (0.50 against seed 0's 0.23)
  snare) DATA="--voices snare --shelf-hz 80"; MODEL_STEPS=${STEPS:-1500}; CHOOSE=3 ;;
  # high-passed at 30 Hz: the training kicks' median share below 30 Hz -25.9 -> -30.7 dB, their
  # log-mel spectrum moved 0.05 dB, their pitch (59 Hz) unchanged
  # its averaging window chosen by generated clips since session 52, its training seed since session 54
  kick) DATA="--voices kick --highpass-hz 30"; MODEL_STEPS=${STEPS:-1500}; WINDOW=screen; CHOOSE=3 ;;
  tom_high|ride) DATA="--voices $MODEL"; MODEL_STEPS=${STEPS:-1500} ;;
  *) echo "ship_models.sh: MODELS: unknown model $MODEL (drums, clap, or a voice: kick, snare, ...)" >&2; exit 2 ;;
esac
# The training seed chosen by generated clips (CHOOSE=3: training/seeds.py, below): SEED=k trains the
# k-th choice's seeds 3k, 3k+1 and 3k+2, each in its own run, and keeps the least short.
SEEDS=$SEED
if [ -n "$CHOOSE" ]; then
  SEEDS=; S=$((SEED * CHOOSE))
  while [ $S -lt $(((SEED + 1) * CHOOSE)) ]; do SEEDS="$SEEDS $S"; S=$((S + 1)); done
fi
CANDIDATES=
for RUN_SEED in $SEEDS; do
RUN=runs/$MODEL-${VARIANT:+$VARIANT-}seed$RUN_SEED
MODEL_OUT=${OUT:-$RUN.npz}
if [ -n "$CHOOSE" ]; then MODEL_OUT=$RUN.npz; fi
train() {  # the recipe's data and network options, a lever's (TRAIN_ARGS), then the run's own ("$@")
  $PY -m training.train $DATA --kits $KITS \
    --sf2 $SF2/Black_Pearl_4_LV2.sf2 --sf2 $SF2/Red_Zeppelin_4_LV2.sf2 --sf2 $SF2/FluidR3_GM.sf2 \
    --holdout-kits "$HOLDOUT" --sample-rate 44100 --val-fraction 0 \
    --preemphasis 0.85 --crop 8192 --dilations 1..1024x2 --embedding-size 16 \
    --time-constants 0.0025,0.01,0.04,0.16,0.64 --decay-conditioning --envelope --end-mask \
    --gain-db 6 --pitch-semitones 1 --pitch-steps 5 --input-drift 0.01 --input-drift-share 0.25 \
    --batch-size 4 --learning-rate 1e-3 \
    --eval-every 250 --patience 0 --checkpoint-every 100 --snapshot-every 250 --log-every 25 \
    --seed $RUN_SEED $TRAIN_ARGS "$@" $RESUME
}
train --steps $MODEL_STEPS --out $MODEL_OUT --run-dir $RUN
# The shipped weights are the mean of the snapshots from step $SWA_FIRST to the end (stochastic weight
# averaging, training/average.py): at this constant learning rate single snapshots wander between
# steady noise and decaying drums; their mean generates steadily (docs/evaluation.md).
$PY -m training.average $MODEL_OUT --run-dir $RUN --first ${SWA_FIRST:-$((MODEL_STEPS / 4))} -o $MODEL_OUT --overwrite
# Round the weight matrices to float16 values: the kernel then streams half the bytes
# (about 1.6x at batch size 1) with the same float32 arithmetic.
$PY -c "import sys, fastdrum; fastdrum.load_model(sys.argv[1]).round_weights().save(sys.argv[1], overwrite=True)" $MODEL_OUT
# The unconditional voice 'any' of classifier-free guidance (drums.npz only): with the network frozen,
# one more voice embedding is fitted to every clip of every voice (every window's voice is 'any'),
# 1,000 steps at learning rate 0.003 (330 s on two cores, 2026-12-03), averaged over steps 500-1,000,
# and grafted onto the model; tools/graft_any.py checks that the network is the model's, bit for bit,
# and that its voices still generate the same clips. Fine-tuning every weight with 20% of windows
# dropped to 'any' instead judged worse (docs/evaluation.md, "A trained unconditional voice").
# A model trained with the voice already (TRAIN_ARGS="--voice-dropout P") skips this.
if [ "$MODEL" = drums ] && $PY -c "import sys, fastdrum; sys.exit('any' in fastdrum.load_model(sys.argv[1]).voices)" $MODEL_OUT; then
  train --steps 1000 --init-from $MODEL_OUT --voice-dropout 1 --train-only voice_emb \
    --learning-rate 0.003 --snapshot-every 100 --out $RUN-any.npz --run-dir $RUN-any
  $PY -m training.average $RUN-any.npz --run-dir $RUN-any --first 500 -o $RUN-any.npz --overwrite
  $PY tools/graft_any.py $MODEL_OUT $RUN-any.npz $MODEL_OUT --overwrite
fi
# Each voice's default temperature and epsilon (the sampling cutoff of fastdrum.generate), judged on
# the rounded weights that ship: the pair of temperatures 0.8-1.3 (the clap's 0.8-1.8) and epsilons 0, 0.005, 0.01 whose
# clips (40 a voice, seed 1) fall least short of the evaluation's criteria against the held-out kits
# (training/tune.py; 33 min on two cores for the shipped weights, 35 for the no-split run, 2026-12-02;
# runs before that date were tuned on 0.8-1.1, in about 15 min alone, 28 beside another job).
# Then, at that pair, negative-voice guidance (fastdrum.generate's negative_voice and guidance) away
# from each of the voice's neighbours in a kit (and from 'any', where the model has it) at weights 0.5, 1 and 2, kept where its clips fall less
# short than without (training/tune.py --guidance; docs/evaluation.md, "Negative-voice guidance"), and
# then only if they also do on each of three fresh seeds of clips (--guidance-seeds 3, the default):
# guidance costs a second row of the network a clip (docs/evaluation.md, "Guidance that earns its cost").
# The clap, whose pick sat on the default grid's edge (1.3), tries temperatures to 1.8 ($TUNE_GRID); the
# snare, also at that edge, kept its pick on the wider grid (docs/evaluation.md, "The clap's quiet clips").
$PY -m training.tune $MODEL_OUT -o $MODEL_OUT --overwrite --guidance 0.5,1,2 $TUNE_GRID
# The averaging window chosen by generated clips (WINDOW=screen: the crash, the toms and the kick since
# session 52, the clap since session 53; training/window.py): each snapshot's step as the window's first, the mean from it to the end
# rounded and judged at the tuned defaults (40 clips, seed 1, against the held-out kits); the least short
# wins, ties the run's own window. A window other than the run's own is tuned again. Measured on seeds 0 and 1 of
# each voice's shipped recipe: the crash 1.25 and 1.30 short -> 1.08 and 1.22, the low tom 3.44 and 3.33
# -> 2.40 and 1.95, the mid tom 1.43 and 1.17 -> 1.32 and 0.96, the kick 3.58 and 1.09 -> 3.58 (its own
# window won) and 1.06 (docs/evaluation.md, "The averaging window chosen by generated clips"); the clap
# 4.25 and 3.73 -> 3.08 and 2.95 (docs/evaluation.md, "The clap's averaging window chosen by its clips").
# Judged on 100 clips instead of 40, the kick's window stayed its run's own on both seeds (1.09 against
# 1.06 on seed 1): not adopted (docs/evaluation.md, "The kick's window screened on 100 clips").
if [ -n "$WINDOW" ]; then
  $PY -m training.window $MODEL_OUT --run-dir $RUN -o $MODEL_OUT --overwrite
  if $PY -c "import sys, fastdrum; w = fastdrum.load_model(sys.argv[1]).meta['window_choice']; sys.exit(w['chosen_first'] == w['own_first'])" $MODEL_OUT; then
    $PY -m training.tune $MODEL_OUT -o $MODEL_OUT --overwrite --guidance 0.5,1,2 $TUNE_GRID
  fi
fi
CANDIDATES="$CANDIDATES $MODEL_OUT"
done
# The training seed chosen by generated clips (CHOOSE=3: the kick and the clap since session 54, the
# hi-hat since session 58, the snare since session 59): each seed's finished file judged at its defaults on 100 clips of seed 5,
# which no step above draws, against the held-out kits (as `python -m training.evaluate FILE -n 100 --seed 5`); the least short
# (ties: the larger margin, training.tune.margin, then the first) is written
# to runs/MODEL-seedsA-B.npz (OUT names another file) with the screen in meta['seed_choice']
# (training/seeds.py). Runs of one recipe on seeds 0, 1 and 2 fell 3.58, 1.06 and 0.58 short (the
# kick) and 3.08, 2.95 and 4.32 (the clap); the screen chose seed 2 of the kick and seed 1 of the clap
# (docs/evaluation.md, "The training seed chosen by generated clips"). SEED=1 trains seeds 3, 4 and 5:
# of the kick's (0.83, 2.48, 0.49 short) the screen chose seed 3.
# On the low tom (2.40, 1.95, 4.18) it chose seed 0, the file it ships, so it trains one seed (docs/evaluation.md,
# "The training seed screened on the low tom and the snare"). The snare's three seeds (0.08, 0, 0) all screen
# at 0; since session 59 such a tie goes to the larger margin (training.tune.margin), which chose seed 1
# (docs/evaluation.md, "The snare's training seed chosen by margin").
FINAL=$MODEL_OUT
if [ -n "$CHOOSE" ]; then
  FINAL=${OUT:-runs/$MODEL-${VARIANT:+$VARIANT-}seeds$((SEED * CHOOSE))-$(((SEED + 1) * CHOOSE - 1)).npz}
  $PY -m training.seeds $CANDIDATES -o $FINAL --overwrite
fi
# The output filter (EQ, since session 56: training/match_eq.py; model format 5): each voice's average spectrum
# error against its training clips (as training saw them), measured on 100 clips of seed 7 and
# inverted by a minimum-phase FIR filter that generate() applies; its strength (none, half, whole)
# chosen on 100 clips of seed 6 against the held-out kits (docs/evaluation.md, "An output filter
# fitted on the training clips"). Adopted where, by a rule written before its figures, the shipped file
# fell less short with it under the evaluation before and after noise shaped like each voice joined the
# classifier's reject class (and on a second seed's file where one was at hand): under the latter the
# clap 3.85 -> 0.92, the low tom 5.40 -> 4.37, the crash 1.08 -> 0.05, the open hat 0.60 -> 0,
# drums.npz's ride 0.16 -> 0 and high tom 0.72 -> 0.71; not the mid tom (1.46 -> 1.67) nor the kick
# (1.65 -> 1.04, but 0.58 -> 0.87 under the evaluation before: too dark above 5 kHz); since session 57
# the hi-hat (retuned, then filtered: 6.25 -> 3.25; seed 3 6.90 -> 2.07; 0 under the evaluation before).
# EQ=all fits every voice of the file, EQ=V,W those voices (drums.npz: the voices it plays).
if [ -n "$EQ" ]; then
  if [ "$EQ" = all ]; then EQ_VOICES=; else EQ_VOICES="--voices $EQ"; fi
  $PY -m training.match_eq $FINAL $EQ_VOICES -o $FINAL --overwrite
fi
done
