using System.Diagnostics;

namespace Switchboard.Testing;

/// <summary>
/// A real three-master Redis Cluster (no replicas) on free loopback ports: three
/// <see cref="RedisServer"/>s with cluster mode on, joined by <c>redis-cli --cluster create</c>.
/// Ready once every node reports <c>cluster_state:ok</c> with all slots assigned.
/// <see cref="DisposeAsync"/> stops exactly those three processes.
/// </summary>
public sealed class RedisCluster : IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private RedisCluster(IReadOnlyList<RedisServer> nodes) => Nodes = nodes;

    /// <summary>The three master nodes.</summary>
    public IReadOnlyList<RedisServer> Nodes { get; }

    /// <summary>Every node's <c>127.0.0.1:port</c>: the seed addresses for a cluster client.</summary>
    public IReadOnlyList<string> Addresses => [.. Nodes.Select(n => n.Address)];

    /// <summary>The seed addresses as one StackExchange.Redis configuration string.</summary>
    public string ConfigurationString => string.Join(',', Addresses);

    /// <summary>Starts three nodes, creates the cluster and waits until it is ready.</summary>
    public static async Task<RedisCluster> StartAsync(CancellationToken cancellationToken = default)
    {
        var nodes = new List<RedisServer>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                nodes.Add(await RedisServer.StartAsync(new RedisServerOptions { ClusterEnabled = true }, cancellationToken));
            }
            await CreateAsync(nodes, cancellationToken);
            var cluster = new RedisCluster(nodes);
            await cluster.WaitUntilReadyAsync(cancellationToken);
            return cluster;
        }
        catch
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>Stops the three nodes and deletes their directories.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    private static async Task CreateAsync(List<RedisServer> nodes, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("redis-cli")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("--cluster");
        start.ArgumentList.Add("create");
        foreach (var node in nodes)
        {
            start.ArgumentList.Add(node.Address);
        }
        foreach (var arg in new[] { "--cluster-replicas", "0", "--cluster-yes" })
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start) ?? throw new RedisServerStartException("redis-cli did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadyTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new RedisServerStartException($"redis-cli --cluster create did not finish within {ReadyTimeout.TotalSeconds} s.");
        }
        if (process.ExitCode != 0)
        {
            throw new RedisServerStartException($"redis-cli --cluster create failed ({process.ExitCode}): {await stdout}{await stderr}");
        }
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadyTimeout);
        var last = "";
        while (true)
        {
            var ready = true;
            foreach (var node in Nodes)
            {
                last = await Resp.CommandAsync(node.Address, timeout.Token, "CLUSTER", "INFO") as string ?? "";
                ready &= last.Contains("cluster_state:ok", StringComparison.Ordinal)
                    && last.Contains("cluster_slots_assigned:16384", StringComparison.Ordinal)
                    && last.Contains("cluster_known_nodes:3", StringComparison.Ordinal);
            }
            if (ready)
            {
                return;
            }
            try
            {
                // The nodes gossip their way to agreement; there is no event to await.
                await Task.Delay(50, timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new RedisServerStartException($"The cluster was not ready within {ReadyTimeout.TotalSeconds} s: {last}");
            }
        }
    }
}
