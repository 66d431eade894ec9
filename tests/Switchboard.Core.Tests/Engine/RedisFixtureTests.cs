using System.Net.Sockets;
using Switchboard.Testing;

namespace Switchboard.Core.Tests.Engine;

/// <summary>The Redis test servers behave as the engine tests assume: real, restartable, cleaned up.</summary>
public sealed class RedisFixtureTests
{
    [Fact]
    public async Task A_restarted_server_without_persistence_comes_back_empty_on_the_same_port()
    {
        await using var server = await RedisServer.StartAsync();
        var address = server.Address;
        Assert.Equal("OK", await server.CommandAsync("SET", "k", "v"));
        await server.RestartAsync();
        Assert.Equal(address, server.Address);
        Assert.Null(await server.CommandAsync("GET", "k"));
    }

    [Fact]
    public async Task A_restarted_append_only_server_keeps_what_it_acknowledged_even_after_a_kill()
    {
        await using var server = await RedisServer.StartAsync(new RedisServerOptions { AppendOnly = true });
        Assert.Equal("OK", await server.CommandAsync("SET", "k", "v"));
        await server.RestartAsync();
        Assert.Equal("v", await server.CommandAsync("GET", "k"));
    }

    [Fact]
    public async Task A_killed_server_refuses_connections_and_disposal_removes_its_directory()
    {
        var server = await RedisServer.StartAsync();
        var pid = server.ProcessId;
        Assert.NotNull(pid);
        await server.KillAsync();
        Assert.Null(server.ProcessId);
        Assert.False(await Resp.PingAsync(server.Address, CancellationToken.None));
        await server.DisposeAsync();
        Assert.False(Directory.Exists(server.Directory));
        Assert.Throws<ArgumentException>(() => System.Diagnostics.Process.GetProcessById(pid.Value));
    }

    [Fact]
    public async Task A_cluster_serves_every_slot_and_redirects_keys_of_other_nodes()
    {
        await using var cluster = await RedisCluster.StartAsync();
        Assert.Equal(3, cluster.Addresses.Count);
        foreach (var address in cluster.Addresses)
        {
            var info = (string)(await Resp.CommandAsync(address, CancellationToken.None, "CLUSTER", "INFO"))!;
            Assert.Contains("cluster_state:ok", info, StringComparison.Ordinal);
        }
        // Three masters each own a third of the slots: some node must redirect a given key.
        var redirected = 0;
        foreach (var address in cluster.Addresses)
        {
            try
            {
                await Resp.CommandAsync(address, CancellationToken.None, "SET", "some-key", "v");
            }
            catch (RespErrorException e) when (e.Message.StartsWith("MOVED", StringComparison.Ordinal))
            {
                redirected++;
            }
        }
        Assert.Equal(2, redirected);
        var pids = cluster.Nodes.Select(n => n.ProcessId!.Value).ToList();
        await cluster.DisposeAsync();
        Assert.All(pids, pid => Assert.Throws<ArgumentException>(() => System.Diagnostics.Process.GetProcessById(pid)));
    }

    [Fact]
    public async Task Servers_started_together_get_different_ports()
    {
        await using var a = await RedisServer.StartAsync();
        await using var b = await RedisServer.StartAsync();
        Assert.NotEqual(a.Port, b.Port);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", b.Port);
        Assert.True(tcp.Connected);
    }
}
