-- Deep audio encoder throughput (issue 7): training crops per second for each task, and
-- embeddings per second of the 24 music clips (10 s each, six 128-frame crops per clip) by each
-- encoder, on the session's device (SET trustql.device = 'cpu' | 'cuda'). The CLI prints each
-- statement's time; bench/audio/deep_speed.sh turns them into rates.
--
-- Run from the repository root:  trustql --models target/bench-models -f bench/audio/deep_speed.sql

CREATE TABLE chorales AS SELECT samples FROM read_audio('../shared/data/audio/rendered/*_mix.wav', 22050);
CREATE TABLE clips AS SELECT samples FROM read_audio('../shared/data/audio/music/*.wav', 22050);

-- Training: 12 clips × 4 crops × 5 epochs = 240 crops of 128 frames per model.
SELECT 'train autoencoder' AS bench;
CREATE OR REPLACE MODEL b_ae OPTIONS (type = 'vgg', task = 'autoencoder', epochs = 5, crops_per_clip = 4, batch_size = 8)
  AS SELECT samples AS audio FROM chorales;
SELECT 'train instrument' AS bench;
CREATE OR REPLACE MODEL b_ir OPTIONS (type = 'vgg', task = 'instrument', epochs = 5, crops_per_clip = 4, batch_size = 8)
  AS SELECT samples AS audio, CASE row_number() OVER () % 2 WHEN 0 THEN 'a' ELSE 'b' END AS label FROM chorales;
SELECT 'train separation' AS bench;
CREATE OR REPLACE MODEL b_vs OPTIONS (type = 'vgg', task = 'separation', epochs = 5, crops_per_clip = 4, batch_size = 8)
  AS SELECT samples AS audio, samples AS target FROM chorales;

-- Embedding: 24 clips (144 crops), three times each.
SELECT 'embed vgg' AS bench;
CREATE OR REPLACE TABLE e AS SELECT embed('b_ir', samples) AS z FROM clips;
CREATE OR REPLACE TABLE e AS SELECT embed('b_ir', samples) AS z FROM clips;
CREATE OR REPLACE TABLE e AS SELECT embed('b_ir', samples) AS z FROM clips;
SELECT 'embed mfcc' AS bench;
CREATE OR REPLACE TABLE e AS SELECT embed('mfcc', samples) AS z FROM clips;
CREATE OR REPLACE TABLE e AS SELECT embed('mfcc', samples) AS z FROM clips;
CREATE OR REPLACE TABLE e AS SELECT embed('mfcc', samples) AS z FROM clips;
SELECT 'done' AS bench;
