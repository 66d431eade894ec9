using Switchboard.Engine;
using Switchboard.Protocol;

namespace Switchboard.Sessions;

/// <summary>
/// The recovery decision of PROTOCOL.md: all or nothing. A client that was at
/// (<c>epoch</c>, <c>offset</c>) recovers only when every publication after its offset up to the
/// current top is still in history, in one contiguous run.
/// </summary>
internal static class Recovery
{
    /// <summary>
    /// Decides from a history page read after the client's offset (read with a limit of
    /// <paramref name="maxPublications"/> + 1, so "too many" is visible).
    /// </summary>
    public static (bool Recovered, IReadOnlyList<Publication> Publications) Decide(
        string clientEpoch, ulong clientOffset, HistoryPage page, int maxPublications)
    {
        var top = page.Position.Offset;
        if (clientEpoch != page.Position.Epoch || clientOffset > top)
        {
            return (false, []);
        }
        if (clientOffset == top)
        {
            return (true, []);
        }
        var pubs = page.Publications;
        if (pubs.Count == 0 || pubs.Count > maxPublications)
        {
            return (false, []);
        }
        if (pubs[0].Offset != clientOffset + 1 || pubs[^1].Offset != top)
        {
            return (false, []);
        }
        for (var i = 1; i < pubs.Count; i++)
        {
            if (pubs[i].Offset != pubs[i - 1].Offset + 1)
            {
                return (false, []);
            }
        }
        return (true, pubs);
    }
}
