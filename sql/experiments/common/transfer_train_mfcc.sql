-- The MFCC baseline (thesis §2.4.2; see ../transfer_run.sql): 20 MFCCs with Δ and ΔΔ, mean and
-- standard deviation over the frames of the mono rendering (120 dimensions).
CREATE TABLE clip_features AS
  SELECT clip, mfcc_stats(render_midi(midi, 22050, '', render_options), 22050, 'choi') AS features
  FROM (SELECT DISTINCT clip, midi, render_options FROM targets);
