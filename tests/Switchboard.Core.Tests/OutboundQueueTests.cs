using System.Text;
using Switchboard.Protocol;

namespace Switchboard.Core.Tests;

public sealed class OutboundQueueTests : IDisposable
{
    private readonly TestNode _node = new(o =>
    {
        o.Client.AllowAnonymousConnectWithoutToken = true;
        o.Client.QueueMaxBytes = 1000;
        o.Client.MaxFrameBytes = 100;
    });

    public void Dispose() => _node.Dispose();

    private static byte[] Message(int n) => Encoding.UTF8.GetBytes($"{{\"n\":{n}}}");

    [Fact]
    public async Task Messages_queued_while_a_write_is_in_flight_go_out_together_in_one_frame()
    {
        var transport = new GatedTransport();
        var client = _node.Node.CreateClient(transport);
        client.Enqueue(Message(1));
        await transport.WriteStartedAsync(); // the writer holds message 1 at the gate
        for (var n = 2; n <= 5; n++)
        {
            client.Enqueue(Message(n));
        }
        transport.Release(2);
        Assert.Equal("{\"n\":1}", await transport.NextFrameAsync());
        Assert.Equal("{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}", await transport.NextFrameAsync());
        client.Disconnect(Disconnect.Shutdown);
        Assert.Equal(DisconnectCodes.Shutdown, (await transport.Closed).Code);
    }

    [Fact]
    public async Task A_frame_never_grows_past_the_maximum_frame_size()
    {
        var transport = new GatedTransport();
        var client = _node.Node.CreateClient(transport);
        client.Enqueue(Message(0));
        await transport.WriteStartedAsync();
        for (var n = 10; n < 30; n++)
        {
            client.Enqueue(Message(n)); // 8 bytes each: 11 fit in 100 bytes with separators
        }
        transport.Release(100);
        await transport.NextFrameAsync();
        var frames = new List<string>();
        var total = 0;
        while (total < 20)
        {
            var frame = await transport.NextFrameAsync();
            Assert.True(Encoding.UTF8.GetByteCount(frame) <= 100, frame);
            frames.Add(frame);
            total += frame.Split('\n').Length;
        }
        Assert.Equal(2, frames.Count);
        Assert.Equal(Enumerable.Range(10, 20).Select(n => $"{{\"n\":{n}}}"), frames.SelectMany(f => f.Split('\n')));
    }

    [Fact]
    public async Task A_client_that_does_not_read_is_closed_as_slow_and_its_queue_is_dropped()
    {
        var transport = new GatedTransport();
        var client = _node.Node.CreateClient(transport);
        client.Enqueue(Message(0));
        await transport.WriteStartedAsync(); // the socket is stuck
        var accepted = 0;
        for (var n = 0; n < 500 && client.Enqueue(new byte[100]); n++)
        {
            accepted++;
        }
        Assert.InRange(accepted, 9, 10); // 1000 bytes of queue
        Assert.Equal(1006, (await transport.Closed.WaitAsync(TimeSpan.FromSeconds(10))).Code); // dropped, no close frame
        Assert.Equal(DisconnectCodes.Slow, client.DisconnectCode);
        Assert.False(client.Enqueue(Message(1)));
    }
}
