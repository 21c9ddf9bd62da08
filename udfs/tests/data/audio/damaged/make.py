"""Writes the damaged WAV files of sql/audio/damaged.slt by hand (struct), so that they do not
depend on any WAV writer: each breaks one header fact that the decoder must refuse."""
import random
import struct


def wav(channels=1, sr=22050, bits=16, frames=100, tag=1, block=None, data_len=None,
        riff_len=None, cut=None):
    bps = bits // 8
    data = bytes((i * 37) % 256 for i in range(frames * channels * bps))
    block = channels * bps if block is None else block
    dl = len(data) if data_len is None else data_len
    rl = 36 + len(data) if riff_len is None else riff_len
    b = (b'RIFF' + struct.pack('<I', rl) + b'WAVE' + b'fmt '
         + struct.pack('<IHHIIHH', 16, tag, channels, sr, sr * block & 0xffffffff, block, bits)
         + b'data' + struct.pack('<I', dl) + data)
    return b if cut is None else b[:cut]


files = {
    'sample_rate_0.wav': wav(sr=0),
    'channels_0.wav': wav(channels=0, block=2),
    'truncated.wav': wav(frames=1000, cut=300),
    'huge_data.wav': wav(data_len=0xFFFFFF00, riff_len=0xFFFFFFF0),
    'adpcm.wav': wav(tag=2, bits=4, block=1),
}
# WAVE_FORMAT_EXTENSIBLE, PCM sub-format, 0 bits per coded sample.
ext = (struct.pack('<HHIIHH', 0xFFFE, 1, 22050, 0, 0, 0) + struct.pack('<HHI', 22, 0, 4)
       + bytes.fromhex('0100000000001000800000aa00389b71'))
files['extensible_0_bits.wav'] = (b'RIFF' + struct.pack('<I', 4 + 8 + 40 + 8 + 8) + b'WAVE'
                                  + b'fmt ' + struct.pack('<I', 40) + ext
                                  + b'data' + struct.pack('<I', 8) + bytes(8))
r = random.Random(17)
files['garbage.wav'] = bytes(r.randrange(256) for _ in range(2000))
for name, data in files.items():
    with open(name, 'wb') as f:
        f.write(data)
