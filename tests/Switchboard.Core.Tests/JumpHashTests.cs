using Switchboard.Engine.Redis;

namespace Switchboard.Core.Tests;

public sealed class JumpHashTests
{
    private static readonly string[] Channels = [.. Enumerable.Range(0, 10_000).Select(i => $"chat:room-{i}")];

    [Fact]
    public void A_channel_always_maps_to_the_same_shard_within_range()
    {
        foreach (var channel in Channels)
        {
            var shard = JumpHash.Bucket(channel, 5);
            Assert.InRange(shard, 0, 4);
            Assert.Equal(shard, JumpHash.Bucket(channel, 5));
        }
        Assert.All(Channels, c => Assert.Equal(0, JumpHash.Bucket(c, 1)));
    }

    [Fact]
    public void Channels_spread_evenly_over_the_shards()
    {
        var counts = Channels.GroupBy(c => JumpHash.Bucket(c, 4)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(4, counts.Count);
        Assert.All(counts.Values, n => Assert.InRange(n, 2_200, 2_800));
    }

    [Fact]
    public void Adding_a_shard_moves_about_one_channel_in_n_and_only_to_the_new_shard()
    {
        var moved = 0;
        foreach (var channel in Channels)
        {
            var before = JumpHash.Bucket(channel, 3);
            var after = JumpHash.Bucket(channel, 4);
            if (before != after)
            {
                Assert.Equal(3, after);
                moved++;
            }
        }
        Assert.InRange(moved, 2_200, 2_800); // a quarter of 10,000
    }
}
