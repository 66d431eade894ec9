using System.Buffers.Text;
using System.Diagnostics;
using HdrHistogram;

namespace Switchboard.Bench;

/// <summary>
/// The payload every publication carries, identical for all servers:
/// <c>{"bstep":S,"bseq":N,"bts":T}</c> (optionally padded, see <see cref="Format(int, int, long, int)"/>) — the step id, the sequence number within the step
/// (0-based) and the publisher's <see cref="Stopwatch.GetTimestamp"/> at the moment it sent the
/// request. Publisher and subscribers live in one process, so the clocks are the same.
/// </summary>
internal static class Payload
{
    private static readonly byte[] StepKey = "\"bstep\":"u8.ToArray();
    private static readonly byte[] SeqKey = "\"bseq\":"u8.ToArray();
    private static readonly byte[] TsKey = "\"bts\":"u8.ToArray();

    public static string Format(int step, int seq, long timestamp) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{{\"bstep\":{step},\"bseq\":{seq},\"bts\":{timestamp}}}");

    /// <summary>
    /// The payload padded with a filler field after the measured ones (<c>,"bpad":"xxx…"</c>) so that
    /// the JSON is <paramref name="size"/> bytes long (or the bare payload when that is already longer).
    /// </summary>
    public static string Format(int step, int seq, long timestamp, int size)
    {
        var bare = Format(step, seq, timestamp);
        const int Overhead = 10; // ,"bpad":""
        var fill = size - bare.Length - Overhead;
        return fill <= 0 ? bare : string.Concat(bare.AsSpan(0, bare.Length - 1), ",\"bpad\":\"", new string('x', fill), "\"}");
    }

    /// <summary>Finds the payload inside any server's framing of it, without a JSON parse.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, out int step, out int seq, out long timestamp)
    {
        step = seq = 0;
        timestamp = 0;
        var i = message.IndexOf(StepKey);
        if (i < 0)
        {
            return false;
        }
        var rest = message[(i + StepKey.Length)..];
        if (!Utf8Parser.TryParse(rest, out step, out var n))
        {
            return false;
        }
        rest = rest[n..];
        i = rest.IndexOf(SeqKey);
        if (i < 0 || !Utf8Parser.TryParse(rest[(i + SeqKey.Length)..], out seq, out n))
        {
            return false;
        }
        rest = rest[(i + SeqKey.Length + n)..];
        i = rest.IndexOf(TsKey);
        return i >= 0 && Utf8Parser.TryParse(rest[(i + TsKey.Length)..], out timestamp, out _);
    }
}

/// <summary>What one measured step records: latencies of first deliveries, sharded to keep locks cold.</summary>
internal sealed class StepState(int step, int capacity)
{
    private const int Shards = 16;
    // 1 µs .. 10 minutes, 3 significant digits.
    private const long HighestMicros = 600_000_000;

    private readonly LongHistogram[] _histograms =
        Enumerable.Range(0, Shards).Select(_ => new LongHistogram(1, HighestMicros, 3)).ToArray();

    private long _foreign;

    public int Step { get; } = step;

    public int Capacity { get; } = capacity;

    /// <summary>1 where the publish request for that sequence number was answered with success.</summary>
    public byte[] PublishedOk { get; } = new byte[capacity];

    public long Foreign => Interlocked.Read(ref _foreign);

    public void Record(int subscriberId, long elapsedTicks)
    {
        var micros = Math.Clamp(elapsedTicks * 1_000_000 / Stopwatch.Frequency, 1, HighestMicros);
        var h = _histograms[subscriberId % Shards];
        lock (h)
        {
            h.RecordValue(micros);
        }
    }

    public void CountForeign() => Interlocked.Increment(ref _foreign);

    public LongHistogram Merged()
    {
        var all = new LongHistogram(1, HighestMicros, 3);
        foreach (var h in _histograms)
        {
            lock (h)
            {
                all.Add(h);
            }
        }
        return all;
    }
}

/// <summary>The step a run is in; subscribers look it up on every delivery.</summary>
internal sealed class RunState
{
    private StepState? _current;
    private long _outOfStep;

    public StepState? Current
    {
        get => Volatile.Read(ref _current);
        set => Volatile.Write(ref _current, value);
    }

    /// <summary>Deliveries that belong to no current step (late ones from an earlier step, warm-up).</summary>
    public long OutOfStep => Interlocked.Read(ref _outOfStep);

    public void CountOutOfStep() => Interlocked.Increment(ref _outOfStep);
}
