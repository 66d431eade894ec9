using Switchboard.Engine;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Core.Tests;

public class RecoveryTests
{
    private static HistoryPage Page(string epoch, ulong top, params ulong[] offsets)
        => new([.. offsets.Select(o => new Publication { Offset = o })], new StreamPosition { Epoch = epoch, Offset = top });

    [Fact]
    public void Recovers_every_missed_publication_when_the_run_is_contiguous()
    {
        var (recovered, pubs) = Recovery.Decide("e", 3, Page("e", 6, 4, 5, 6), 300);
        Assert.True(recovered);
        Assert.Equal([4UL, 5, 6], pubs.Select(p => p.Offset));
    }

    [Fact]
    public void Nothing_missed_is_a_successful_recovery_with_no_publications()
    {
        var (recovered, pubs) = Recovery.Decide("e", 6, Page("e", 6), 300);
        Assert.True(recovered);
        Assert.Empty(pubs);
    }

    [Fact]
    public void Another_epoch_is_never_recovered()
    {
        var (recovered, pubs) = Recovery.Decide("old", 3, Page("new", 6, 4, 5, 6), 300);
        Assert.False(recovered);
        Assert.Empty(pubs);
    }

    [Fact]
    public void A_trimmed_history_gives_no_partial_recovery()
    {
        // The client was at 3; history starts at 5 (4 was trimmed by size or TTL).
        var (recovered, pubs) = Recovery.Decide("e", 3, Page("e", 6, 5, 6), 300);
        Assert.False(recovered);
        Assert.Empty(pubs);
    }

    [Fact]
    public void An_expired_history_with_a_higher_top_is_not_recovered()
    {
        var (recovered, pubs) = Recovery.Decide("e", 3, Page("e", 6), 300);
        Assert.False(recovered);
        Assert.Empty(pubs);
    }

    [Fact]
    public void More_missed_than_the_limit_is_not_recovered()
    {
        var (recovered, pubs) = Recovery.Decide("e", 0, Page("e", 4, 1, 2, 3, 4), 3);
        Assert.False(recovered);
        Assert.Empty(pubs);
    }

    [Fact]
    public void A_client_ahead_of_the_stream_is_not_recovered()
    {
        var (recovered, _) = Recovery.Decide("e", 9, Page("e", 6), 300);
        Assert.False(recovered);
    }

    [Fact]
    public void A_page_that_stops_short_of_the_top_is_not_recovered()
    {
        var (recovered, pubs) = Recovery.Decide("e", 3, Page("e", 7, 4, 5, 6), 300);
        Assert.False(recovered);
        Assert.Empty(pubs);
    }
}
