namespace Switchboard.Testing;

/// <summary>
/// One Redis server shared by the tests of a class (<c>IClassFixture&lt;RedisServerFixture&gt;</c>)
/// or of a collection (<c>ICollectionFixture</c>): started before the first test, stopped after
/// the last. Tests keep apart by key prefix or channel name, not by server.
/// </summary>
public class RedisServerFixture : IAsyncLifetime, IAsyncDisposable
{
    private RedisServer? _server;

    /// <summary>The running server.</summary>
    public RedisServer Server => _server ?? throw new InvalidOperationException("The Redis server is not started.");

    /// <summary>How the server keeps its data; none by default.</summary>
    protected virtual RedisServerOptions Options => new();

    /// <inheritdoc/>
    public async Task InitializeAsync() => _server = await RedisServer.StartAsync(Options);

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}

/// <summary>A shared Redis server with an append-only file fsynced on every write.</summary>
public sealed class AppendOnlyRedisServerFixture : RedisServerFixture
{
    /// <inheritdoc/>
    protected override RedisServerOptions Options => new() { AppendOnly = true };
}

/// <summary>Two independent Redis servers shared by a class, e.g. as two shards.</summary>
public sealed class TwoRedisServersFixture : IAsyncLifetime, IAsyncDisposable
{
    private readonly List<RedisServer> _servers = [];

    /// <summary>The two running servers.</summary>
    public IReadOnlyList<RedisServer> Servers => _servers.Count == 2 ? _servers : throw new InvalidOperationException("The Redis servers are not started.");

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        _servers.Add(await RedisServer.StartAsync());
        _servers.Add(await RedisServer.StartAsync());
    }

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}

/// <summary>A three-master Redis Cluster shared by the tests of a class.</summary>
public sealed class RedisClusterFixture : IAsyncLifetime, IAsyncDisposable
{
    private RedisCluster? _cluster;

    /// <summary>The running cluster.</summary>
    public RedisCluster Cluster => _cluster ?? throw new InvalidOperationException("The Redis cluster is not started.");

    /// <inheritdoc/>
    public async Task InitializeAsync() => _cluster = await RedisCluster.StartAsync();

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}
