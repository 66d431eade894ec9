using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Switchboard.Bench;

/// <summary>
/// A redis-server of its own for one server run (the "-redis" kinds, switchboard-redis and
/// switchboard-cluster): a free loopback port, no persistence, in the foreground, pinned to the
/// server's core (the whole server side shares one core). Stopped by its own pid only.
/// </summary>
internal sealed class RedisSidecar : IAsyncDisposable
{
    private readonly Process _process;

    private RedisSidecar(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Pid => _process.Id;

    public int Port { get; }

    public string Url => $"redis://127.0.0.1:{Port}";

    /// <summary>host:port, the form Switchboard's <c>Redis:Addresses</c> take.</summary>
    public string Address => $"127.0.0.1:{Port}";

    /// <summary>Starts redis-server and waits until it answers PING.</summary>
    public static RedisSidecar Start(int? core, string workingDirectory, Action<string?> log, TimeSpan timeout)
    {
        var port = ServerProcess.FreePort();
        var inner = new ProcessStartInfo(File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server")
        {
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in new[]
        {
            "--port", port.ToString(CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", workingDirectory,
            "--logfile", "",
            "--loglevel", "warning",
        })
        {
            inner.ArgumentList.Add(a);
        }
        var psi = ServerProcess.Pinned(inner, core);
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        log($"# redis sidecar: {psi.FileName} {string.Join(' ', psi.ArgumentList.Select(a => a.Length == 0 ? "\"\"" : a))}");
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start redis-server");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"cannot start redis-server ({e.Message}); run bench/install-peers.sh", e);
        }
        process.OutputDataReceived += (_, e) => log(e.Data is null ? null : "redis: " + e.Data);
        process.ErrorDataReceived += (_, e) => log(e.Data is null ? null : "redis: " + e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var sidecar = new RedisSidecar(process, port);
        try
        {
            sidecar.WaitForPong(timeout);
        }
        catch
        {
            sidecar.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
        log($"# redis sidecar: pid {process.Id} on port {port} answers PING");
        return sidecar;
    }

    private void WaitForPong(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var buffer = new byte[64];
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode} (see the server log)");
            }
            try
            {
                using var client = new TcpClient();
                client.Connect("127.0.0.1", Port);
                client.ReceiveTimeout = 1000;
                var stream = client.GetStream();
                stream.Write("PING\r\n"u8);
                var n = stream.Read(buffer);
                if (n > 0 && Encoding.ASCII.GetString(buffer, 0, n).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
            }
            Thread.Sleep(50);
        }
        throw new TimeoutException($"redis-server did not answer PING within {timeout.TotalSeconds} s");
    }

    public async ValueTask DisposeAsync()
    {
        // SIGTERM: without persistence redis exits at once.
        await ProcStats.StopAsync(_process, TimeSpan.FromSeconds(10));
        _process.Dispose();
    }
}
