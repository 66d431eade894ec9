namespace Switchboard.Client;

/// <summary>Reconnect and retry delays: exponential growth with full jitter, so clients dropped together do not return together.</summary>
internal static class Backoff
{
    /// <summary>
    /// The wait before retry number <paramref name="attempt"/> (0-based): <paramref name="min"/> plus a
    /// uniformly random share of min(max, min·2^attempt), never more than <paramref name="max"/>.
    /// </summary>
    /// <param name="attempt">Retries so far.</param>
    /// <param name="min">The shortest delay.</param>
    /// <param name="max">The longest delay.</param>
    /// <param name="random">A number in [0, 1).</param>
    public static TimeSpan Delay(int attempt, TimeSpan min, TimeSpan max, double random)
    {
        var exponent = Math.Clamp(attempt, 0, 30);
        var cap = Math.Min(max.Ticks, min.Ticks * (double)(1L << exponent));
        var ticks = min.Ticks + (long)(random * cap);
        return TimeSpan.FromTicks(Math.Min(max.Ticks, ticks));
    }

    /// <summary>The wait before retry number <paramref name="attempt"/>, with a fresh random jitter.</summary>
    public static TimeSpan Delay(int attempt, TimeSpan min, TimeSpan max) => Delay(attempt, min, max, Random.Shared.NextDouble());
}
