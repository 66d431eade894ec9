using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Switchboard.Testing;

namespace Switchboard.FunctionalTests;

/// <summary>
/// A real Redis Sentinel (<c>redis-server --sentinel</c>) watching one primary as <c>mymaster</c>,
/// on a free loopback port; disposal stops exactly the process it started.
/// </summary>
internal sealed class RedisSentinel : IAsyncDisposable
{
    public const string ServiceName = "mymaster";

    private readonly Process _process;
    private readonly string _directory;

    private RedisSentinel(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string Address => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public static async Task<RedisSentinel> StartAsync(RedisServer primary)
    {
        var directory = Directory.CreateTempSubdirectory("switchboard-sentinel-").FullName;
        var port = FreePort();
        var config = Path.Combine(directory, "sentinel.conf");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            port {port}
            bind 127.0.0.1
            dir {directory}
            sentinel monitor {ServiceName} 127.0.0.1 {primary.Port} 1
            sentinel down-after-milliseconds {ServiceName} 1000
            sentinel failover-timeout {ServiceName} 5000

            """));
        var process = Process.Start(new ProcessStartInfo("redis-server", [config, "--sentinel"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var sentinel = new RedisSentinel(process, directory, port);
        try
        {
            await Poll.UntilAsync(async () => await sentinel.PrimaryPortAsync() == primary.Port, "sentinel knows the primary");
            return sentinel;
        }
        catch
        {
            await sentinel.DisposeAsync();
            throw;
        }
    }

    /// <summary>The port of the primary the sentinel names now, or null.</summary>
    public async Task<int?> PrimaryPortAsync()
    {
        try
        {
            var reply = await Resp.CommandAsync(Address, CancellationToken.None, "SENTINEL", "get-master-addr-by-name", ServiceName);
            return reply is object?[] { Length: 2 } parts && int.TryParse(parts[1]?.ToString(), CultureInfo.InvariantCulture, out var p) ? p : null;
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return null;
        }
    }

    public Task<object?> CommandAsync(params string[] command) => Resp.CommandAsync(Address, CancellationToken.None, command);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Left in the temp folder.
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
