using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Channels;
using Switchboard.Engine.Redis;
using Switchboard.Testing;

namespace Switchboard.Core.Tests.Engine;

/// <summary>Connects a Redis engine node for the tests.</summary>
internal static class RedisEngines
{
    public static async Task<EngineParts> ConnectAsync(RedisOptions options, TimeProvider time)
    {
        var engine = await RedisEngine.ConnectAsync(options, time, NullLoggerFactory.Instance, CancellationToken.None);
        return new EngineParts(engine.Broker, engine.Presence, engine);
    }
}

/// <summary>The conformance suite against the Redis engine on one redis-server (a test's keys under its own prefix).</summary>
public sealed class RedisEngineConformanceTests(RedisServerFixture redis) : EngineConformanceTests, IClassFixture<RedisServerFixture>
{
    protected override Task<EngineParts> CreateEngineAsync(FakeTimeProvider time)
        => RedisEngines.ConnectAsync(new RedisOptions { Addresses = [redis.Server.Address], Prefix = Prefix }, time);
}

/// <summary>The conformance suite against the Redis engine spreading channels over two redis-servers.</summary>
public sealed class ShardedRedisEngineConformanceTests(TwoRedisServersFixture redis) : EngineConformanceTests, IClassFixture<TwoRedisServersFixture>
{
    protected override Task<EngineParts> CreateEngineAsync(FakeTimeProvider time)
        => RedisEngines.ConnectAsync(new RedisOptions { Addresses = [.. redis.Servers.Select(s => s.Address)], Prefix = Prefix }, time);

    [Fact]
    public async Task Channels_are_spread_over_both_shards()
    {
        for (var i = 0; i < 16; i++)
        {
            await Publish(NewChannel(), 1);
        }
        foreach (var server in redis.Servers)
        {
            Assert.NotEmpty((object?[])(await server.CommandAsync("KEYS", Prefix + "*"))!);
        }
    }
}

/// <summary>The conformance suite against the Redis engine on a three-master Redis Cluster (sharded pub/sub).</summary>
public sealed class RedisClusterEngineConformanceTests(RedisClusterFixture redis) : EngineConformanceTests, IClassFixture<RedisClusterFixture>
{
    protected override Task<EngineParts> CreateEngineAsync(FakeTimeProvider time)
        => RedisEngines.ConnectAsync(new RedisOptions { Addresses = [redis.Cluster.ConfigurationString], Cluster = true, Prefix = Prefix }, time);

    [Fact]
    public async Task Channels_are_spread_over_every_master_of_the_cluster()
    {
        for (var i = 0; i < 48; i++)
        {
            await Publish(NewChannel(), 1);
        }
        foreach (var node in redis.Cluster.Nodes)
        {
            Assert.NotEmpty((object?[])(await node.CommandAsync("KEYS", Prefix + "*"))!);
        }
    }
}
